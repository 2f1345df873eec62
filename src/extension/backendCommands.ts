/** "Select Backend" and "Show Backend Info": which TensorFlow.js backend trains, why, and how to get a faster one. */
import * as vscode from 'vscode';
import { findPython, pythonReport } from '../run/python';
import { pythonChoices } from './pythonEnvironment';
import { backendReport } from '../core/backendReport';
import { BACKEND_NAMES, type BackendPreference } from '../core/backends';
import { nodePathEnv, probeBackend, wasmThreadsEnv } from '../run/client';
import { showError } from './notify';

const DESCRIPTIONS: Record<BackendPreference, string> = {
  auto: 'the best that works here, in the order below',
  'tfjs-node-gpu': 'native TensorFlow with CUDA (Linux x64, NVIDIA GPU, CUDA 11.2 + cuDNN 8.1)',
  'tfjs-node': 'native TensorFlow on the CPU',
  webgpu: 'the GPU through WebGPU (Dawn): Vulkan, Metal or Direct3D 12',
  wasm: 'WebAssembly with SIMD: works everywhere; our kernels fill its gaps for conv models',
  cpu: 'plain JavaScript: always works, slowest',
};

/** Reports open as read-only documents, so closing them never asks to save. */
const REPORT_URI = vscode.Uri.from({ scheme: 'latent-studio', path: '/Backend Info.md' });
const reports = new Map<string, string>();
const changed = new vscode.EventEmitter<vscode.Uri>();

export function registerReportDocuments(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider('latent-studio', {
    onDidChange: changed.event,
    provideTextDocumentContent: (uri) => reports.get(uri.toString()) ?? '',
  });
}

/** The worker's environment: extra node_modules, and the wasm backend's threads (`trainingThreads`). */
export function workerEnv(): NodeJS.ProcessEnv {
  const config = vscode.workspace.getConfiguration('latentStudio');
  const extra = config.get<string>('nodeModulesPath', '');
  return { ...nodePathEnv(extra ? [extra] : []), ...wasmThreadsEnv(config.get<number>('trainingThreads', 0)) };
}

export async function selectBackend(): Promise<void> {
  const config = vscode.workspace.getConfiguration('latentStudio');
  const current = config.get<BackendPreference>('backend', 'auto');
  const items = (['auto', ...BACKEND_NAMES] as const).map((name) => ({ label: name, description: name === current ? `(current) ${DESCRIPTIONS[name]}` : DESCRIPTIONS[name], name }));
  const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Backend for training'), placeHolder: vscode.l10n.t('Pick the TensorFlow.js backend (Show Backend Info tells what works here)') });
  if (!pick) return;
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update('backend', pick.name === 'auto' ? undefined : pick.name, target);
  void vscode.window.showInformationMessage(vscode.l10n.t('Latent Studio trains on: {0}.', pick.name));
}

export async function showBackendInfo(): Promise<void> {
  const setting = vscode.workspace.getConfiguration('latentStudio').get<BackendPreference>('backend', 'auto');
  try {
    const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Checking TensorFlow.js backends and Python…') }, () =>
      probeBackend({ backend: setting, env: workerEnv() }),
    );
    const engine = vscode.workspace.getConfiguration('latentStudio').get<string>('engine', 'tfjs');
    const python = await findPython(await pythonChoices());
    reports.set(REPORT_URI.toString(), `${backendReport(info, setting, { platform: process.platform, arch: process.arch })}\n${pythonReport(python, engine)}`);
    changed.fire(REPORT_URI);
    const doc = await vscode.workspace.openTextDocument(REPORT_URI);
    await vscode.window.showTextDocument(doc, { preview: true });
  } catch (e) {
    void showError(vscode.l10n.t('Backend check failed: {0}', e instanceof Error ? e.message : String(e)));
  }
}
