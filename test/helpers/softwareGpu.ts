/**
 * Lets this test process's webgpu backend run on Mesa's lavapipe (a Vulkan driver on the CPU) when
 * scripts/setup-software-gpu.sh installed it: points the Vulkan loader at its ICD file and sets
 * LATENT_WEBGPU_SOFTWARE=1 (src/backend/select.ts refuses software adapters otherwise). Import it
 * before the backend loads. A machine whose Vulkan setup is already chosen (VK_ICD_FILENAMES set,
 * e.g. a real GPU) keeps it; LATENT_TEST_SOFTWARE_GPU=0 turns this off.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SOFTWARE_GPU_ICD = path.join(__dirname, '..', '..', '.cache', 'software-gpu', 'lvp_icd.json');

export function useSoftwareGpu(): void {
  if (process.env.LATENT_TEST_SOFTWARE_GPU === '0') return;
  if (process.env.VK_ICD_FILENAMES === undefined && fs.existsSync(SOFTWARE_GPU_ICD)) {
    process.env.VK_ICD_FILENAMES = SOFTWARE_GPU_ICD;
    // The Vulkan loader warns on every call without it.
    process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  }
  process.env.LATENT_WEBGPU_SOFTWARE = '1';
}

useSoftwareGpu();
