/** The "Show Backend Info" report: which backend trains, why better ones are unavailable, how to get them. */
import type { BackendInfo, BackendPreference } from './backends';

export interface PlatformInfo {
  readonly platform: string;
  readonly arch: string;
}

function installHelp(p: PlatformInfo): string[] {
  const linuxX64 = p.platform === 'linux' && p.arch === 'x64';
  const gpuApi = p.platform === 'darwin' ? 'Metal' : p.platform === 'win32' ? 'Direct3D 12' : 'Vulkan (the libvulkan1 package and the vendor driver)';
  return [
    '## Faster backends',
    '',
    'Native TensorFlow is not bundled (its install downloads TensorFlow itself). To use it, install it in a folder of your choice and point Latent Studio at that folder:',
    '',
    '```sh',
    'mkdir -p ~/latent-studio-native && cd ~/latent-studio-native',
    linuxX64 ? 'npm install @tensorflow/tfjs-node-gpu@4.22.0   # NVIDIA GPU: needs CUDA 11.2 and cuDNN 8.1' : '# tfjs-node-gpu is built for Linux x64 only',
    'npm install @tensorflow/tfjs-node@4.22.0       # native TensorFlow on the CPU',
    '```',
    '',
    'then set **latentStudio.nodeModulesPath** to `~/latent-studio-native/node_modules` and run this command again.',
    '',
    `WebGPU needs a GPU driver with ${gpuApi}; the Dawn runtime for ${p.platform}-${p.arch} ships with the extension.`,
  ];
}

export function backendReport(info: BackendInfo, setting: BackendPreference, platform: PlatformInfo): string {
  return [
    '# Latent Studio backend',
    '',
    `Training runs on **${info.name}** (${info.detail}).${setting === 'auto' ? '' : ` The latentStudio.backend setting asks for ${setting}.`}`,
    '',
    ...(info.skipped.length ? ['Better backends that are not available here:', '', ...info.skipped.map((s) => `- **${s.name}**: ${s.reason}`), ''] : ['This is the best backend Latent Studio knows.', '']),
    ...installHelp(platform),
    '',
  ].join('\n');
}
