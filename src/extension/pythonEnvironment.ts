/**
 * The Python the PyTorch engine may use, as VS Code knows it: the `latentStudio.pythonPath`
 * setting (machine-scoped: a workspace cannot point it at its own code) and the interpreter
 * selected in the Python extension, when that extension is installed.
 */
import * as vscode from 'vscode';
import type { PythonChoices } from '../run/python';

/** The part of the Python extension's API we read (ms-python.python `environments`). */
interface PythonExtensionApi {
  readonly environments?: { getActiveEnvironmentPath(resource?: vscode.Uri): { readonly path: string } | undefined };
}

async function pythonExtensionInterpreter(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const p = api?.environments?.getActiveEnvironmentPath(resource)?.path;
    return typeof p === 'string' && p.trim() ? p : undefined;
  } catch {
    return undefined;
  }
}

export async function pythonChoices(resource?: vscode.Uri): Promise<PythonChoices> {
  const setting = vscode.workspace.getConfiguration('latentStudio').get<string>('pythonPath', '').trim();
  return { ...(setting ? { setting } : {}), pythonExtension: await pythonExtensionInterpreter(resource) };
}
