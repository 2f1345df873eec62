/**
 * Lets this test process's webgpu backend run on Mesa's lavapipe (a Vulkan driver on the CPU) when
 * scripts/setup-software-gpu.sh installed it: points the Vulkan loader at its ICD file and sets
 * LATENT_WEBGPU_SOFTWARE=1 (src/backend/select.ts refuses software adapters otherwise). Import it
 * before the backend loads. A machine whose Vulkan setup is already chosen (VK_ICD_FILENAMES set,
 * e.g. a real GPU) keeps it; LATENT_TEST_SOFTWARE_GPU=0 turns this off.
 *
 * Where the setup installed lavapipe (or failed on a machine it supports), a webgpu test that cannot
 * load webgpu fails instead of skipping: a broken kernel that makes the self-check refuse the backend,
 * or a broken setup, must not pass as a skip.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const DIR = path.join(__dirname, '..', '..', '.cache', 'software-gpu');
export const SOFTWARE_GPU_ICD = path.join(DIR, 'lvp_icd.json');
/** Written by scripts/setup-software-gpu.sh when it could not install lavapipe on a machine it supports (Debian x86-64 with apt-get). */
export const SOFTWARE_GPU_FAILED = path.join(DIR, '.setup-failed');

export function useSoftwareGpu(): void {
  if (process.env.LATENT_TEST_SOFTWARE_GPU === '0') return;
  if (process.env.VK_ICD_FILENAMES === undefined && fs.existsSync(SOFTWARE_GPU_ICD)) {
    process.env.VK_ICD_FILENAMES = SOFTWARE_GPU_ICD;
    // The Vulkan loader warns on every call without it.
    process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  }
  process.env.LATENT_WEBGPU_SOFTWARE = '1';
}

/** Why webgpu must load in this test process, or undefined where it may be missing (no GPU, setup not run or not supported). */
export function webgpuExpected(): string | undefined {
  if (process.env.LATENT_TEST_SOFTWARE_GPU === '0') return undefined;
  if (process.env.VK_ICD_FILENAMES === SOFTWARE_GPU_ICD && fs.existsSync(SOFTWARE_GPU_ICD)) return 'scripts/setup-software-gpu.sh installed lavapipe';
  if (fs.existsSync(SOFTWARE_GPU_FAILED)) return `scripts/setup-software-gpu.sh failed on a machine it supports: ${fs.readFileSync(SOFTWARE_GPU_FAILED, 'utf8').trim()}`;
  return undefined;
}

/** Skips a webgpu test with the reason where webgpu may be missing; fails it where the test setup made webgpu available. */
export function skipWithoutWebgpu(t: { skip(message?: string): void }, reason: string): void {
  const expected = webgpuExpected();
  if (expected !== undefined) assert.fail(`webgpu must load here (${expected}), but it did not: ${reason}`);
  t.skip(`webgpu: ${reason}`);
}

useSoftwareGpu();
