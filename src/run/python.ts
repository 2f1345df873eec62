/**
 * Finding the Python that runs the PyTorch engine: an explicit `--python` alone, else the first
 * candidate that imports torch, in the order the user's choices rank them (the `latentStudio.pythonPath` setting,
 * `LATENT_STUDIO_PYTHON`, the Python extension's interpreter, then `python3` / `python` on the PATH,
 * then Debian's /usr/bin/python3, where `apt-get install python3-torch` puts torch). Each candidate
 * is asked once for its versions and devices; what each said is kept, so "none usable" can say why.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';

export type PythonSource = 'option' | 'setting' | 'environment' | 'python extension' | 'PATH' | 'system';

export interface PythonCandidate {
  readonly command: string;
  readonly source: PythonSource;
}

export interface TorchDevice {
  readonly kind: 'cuda' | 'mps' | 'cpu';
  readonly name: string;
}

export interface PythonFound {
  readonly ok: true;
  readonly command: string;
  readonly source: PythonSource;
  readonly python: string;
  readonly torch: string;
  readonly numpy: string;
  /** Pillow's version, or null without it (only image folders need it). */
  readonly pillow: string | null;
  readonly devices: readonly TorchDevice[];
  /** What the candidates before this one said. */
  readonly tried: readonly PythonTried[];
}

export interface PythonTried {
  readonly command: string;
  readonly source: PythonSource;
  /** Why it cannot run the engine: not found, no torch, no numpy, an error. */
  readonly problem: string;
}

export interface PythonMissing {
  readonly ok: false;
  readonly tried: readonly PythonTried[];
  /** One sentence: what was tried and what to install. */
  readonly message: string;
}

export interface PythonChoices {
  readonly option?: string;
  readonly setting?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The Python extension's selected interpreter, when the extension is installed. */
  readonly pythonExtension?: string;
}

/** The candidates in order, each command once. */
export function pythonCandidates(choices: PythonChoices = {}): PythonCandidate[] {
  const env = choices.env ?? process.env;
  const all: PythonCandidate[] = [];
  const add = (command: string | undefined, source: PythonSource): void => {
    const c = command?.trim();
    if (c && !all.some((x) => x.command === c)) all.push({ command: c, source });
  };
  // An explicit --python is the only candidate: a user who names one does not want another silently.
  if (choices.option?.trim()) return [{ command: choices.option.trim(), source: 'option' }];
  add(choices.setting, 'setting');
  add(env['LATENT_STUDIO_PYTHON'], 'environment');
  add(choices.pythonExtension, 'python extension');
  if (process.platform === 'win32') {
    add('python', 'PATH');
    add('py', 'PATH');
  } else {
    add('python3', 'PATH');
    add('python', 'PATH');
    if (fs.existsSync('/usr/bin/python3')) add('/usr/bin/python3', 'system');
  }
  return all;
}

/** Asks the interpreter for versions and devices; prints one JSON line or a `missing:<module>` line. */
const PROBE = [
  'import json, platform, sys',
  'try:',
  '    import numpy',
  'except Exception as e:',
  '    print("missing:numpy:" + str(e)); sys.exit(0)',
  'try:',
  '    import torch',
  'except Exception as e:',
  '    print("missing:torch:" + str(e)); sys.exit(0)',
  'try:',
  '    import PIL; pillow = PIL.__version__',
  'except Exception:',
  '    pillow = None',
  'devices = []',
  'if torch.cuda.is_available():',
  '    devices += [{"kind": "cuda", "name": torch.cuda.get_device_name(i)} for i in range(torch.cuda.device_count())]',
  'mps = getattr(torch.backends, "mps", None)',
  'if mps is not None and mps.is_available():',
  '    devices.append({"kind": "mps", "name": "Apple GPU (MPS)"})',
  'devices.append({"kind": "cpu", "name": platform.processor() or platform.machine()})',
  'print(json.dumps({"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__, "pillow": pillow, "devices": devices}))',
].join('\n');

type ProbeResult = { ok: true; python: string; torch: string; numpy: string; pillow: string | null; devices: TorchDevice[] } | { ok: false; problem: string };

function parseProbe(stdout: string): ProbeResult {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const missing = /^missing:(numpy|torch):(.*)$/.exec(line);
  if (missing) return { ok: false, problem: `cannot import ${missing[1]} (${missing[2]!.trim()})` };
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    const devices = Array.isArray(v['devices']) ? (v['devices'] as unknown[]).filter((d): d is TorchDevice => typeof d === 'object' && d !== null && ['cuda', 'mps', 'cpu'].includes(String((d as TorchDevice).kind))) : [];
    const str = (k: string): string => (typeof v[k] === 'string' ? (v[k] as string) : '?');
    return { ok: true, python: str('python'), torch: str('torch'), numpy: str('numpy'), pillow: typeof v['pillow'] === 'string' ? (v['pillow'] as string) : null, devices };
  } catch {
    return { ok: false, problem: `answered something else than the probe expected: ${line.slice(0, 200)}` };
  }
}

function probe(command: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(command, ['-c', PROBE], { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return resolve({ ok: false, problem: 'not found' });
        if (err.killed) return resolve({ ok: false, problem: `did not answer within ${Math.round(timeoutMs / 1000)} s` });
        return resolve({ ok: false, problem: `failed: ${(stderr || err.message).trim().split('\n').at(-1)}` });
      }
      resolve(parseProbe(stdout));
    });
  });
}

/** The first candidate that imports torch and numpy, or what each candidate said. */
export async function findPython(choices: PythonChoices = {}, opts: { timeoutMs?: number } = {}): Promise<PythonFound | PythonMissing> {
  const tried: PythonTried[] = [];
  for (const c of pythonCandidates(choices)) {
    const r = await probe(c.command, opts.timeoutMs ?? 60_000);
    if (r.ok) return { ok: true, command: c.command, source: c.source, python: r.python, torch: r.torch, numpy: r.numpy, pillow: r.pillow, devices: r.devices, tried };
    tried.push({ command: c.command, source: c.source, problem: r.problem });
  }
  const list = tried.map((t) => `${t.command} (${t.source}): ${t.problem}`).join('; ');
  return {
    ok: false,
    tried,
    message:
      `No Python with PyTorch was found (${list || 'no candidates'}). Install PyTorch (https://pytorch.org/get-started/locally/, or on Debian/Ubuntu: apt-get install python3-torch) ` +
      'and point Latent Studio at that interpreter: the latentStudio.pythonPath setting, --python, or LATENT_STUDIO_PYTHON.',
  };
}

/** The engine section of Show Backend Info: the Python found and how, torch, the devices; or what each candidate said and what to install. */
export function pythonReport(result: PythonFound | PythonMissing, engine: string): string {
  const lines = ['## PyTorch engine', '', `The latentStudio.engine setting is **${engine}**.`, ''];
  if (result.ok) {
    lines.push(
      `Python: \`${result.command}\` (found by ${result.source}), Python ${result.python}, torch ${result.torch}, numpy ${result.numpy}, Pillow ${result.pillow ?? 'not installed (only image folders need it)'}.`,
      '',
      'Devices:',
      '',
      ...result.devices.map((d) => `- **${d.kind}**: ${d.name}`),
    );
  } else lines.push(result.message);
  if (result.tried.length) lines.push('', 'Tried before:', '', ...result.tried.map((t) => `- \`${t.command}\` (${t.source}): ${t.problem}`));
  lines.push('');
  return lines.join('\n');
}
