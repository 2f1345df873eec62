/**
 * A graph's training section as a plain PyTorch script, `train.py`, beside model.py: the graph's
 * own text (written into each run folder; its SHA-256 keys the checkpoints as the tfjs engine's
 * do), the resolved stages (every default filled in by core/stages.ts, so both engines read the
 * same plan), and the generic parts: data (dataRuntime.ts), optimisers and losses
 * (optimRuntime.ts), the run folder and the loop (trainRuntime.ts).
 */
import type { GraphAnalysis } from '../../core/analyze';
import { resolveStages } from '../../core/stages';
import { DATA_RUNTIME } from './dataRuntime';
import { layerwiseCode } from './layerwiseCode';
import { modelFacts } from './modelCode';
import { OPTIM_RUNTIME } from './optimRuntime';
import { pyPretty, pyStr, wrap } from './python';
import { TRAIN_MAIN, TRAIN_RUNTIME } from './trainRuntime';

export interface TrainCodeMeta {
  /** The graph's text exactly (written into run folders; checkpoints carry its SHA-256). */
  readonly graphText: string;
  /** The graph file's absolute path (config.json's graphFile; relative dataset paths start at its folder). */
  readonly graphPath: string;
  /** How the header names the graph (a file name). */
  readonly graphFile: string;
  readonly version: string;
}

/** The stages as train.py runs them: core's resolved stages plus the model each trains and the layers it freezes. */
export function trainingPlan(analysis: GraphAnalysis): Record<string, unknown>[] {
  const facts = modelFacts(analysis);
  return resolveStages(analysis).map((s) => {
    const model = analysis.models.find((m) => m.outputId === s.outputId)?.name ?? analysis.models[0]!.name;
    const frozenNodes = [...analysis.nodes.values()].filter((n) => !n.trainable || s.freeze.includes(n.id)).map((n) => n.id);
    const m = facts.models.get(model)!;
    return {
      name: s.name,
      kind: s.kind,
      outputId: s.outputId,
      target: s.target,
      loss: s.loss,
      optimizer: s.optimizer,
      learningRate: s.learningRate,
      epochs: s.epochs,
      batchSize: s.batchSize,
      metrics: [...s.metrics],
      freeze: [...s.freeze],
      ...(s.encoder ? { encoder: s.encoder } : {}),
      model,
      frozenLayers: frozenNodes.flatMap((id) => facts.attrsByNode.get(id) ?? []),
      headLogits: m.headLogits,
      hasKl: m.hasKl,
    };
  });
}

function dirname(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i <= 0 ? (i === 0 ? p.slice(0, 1) : '.') : p.slice(0, i);
}

/** `train.py` for a graph that analyzed without errors. */
export function pytorchTrainCode(analysis: GraphAnalysis, meta: TrainCodeMeta): string {
  if (!analysis.ok || !analysis.document || !analysis.inputId) throw new Error('The graph has errors; fix them before exporting it.');
  const doc = analysis.document;
  const t = doc.training;
  const config = {
    graphName: doc.name,
    graphFile: meta.graphFile,
    graphPath: meta.graphPath,
    dataDir: dirname(meta.graphPath),
    version: meta.version,
    dataset: t.dataset,
    split: { validation: t.split.validation, test: t.split.test },
    seed: t.seed,
    classes: t.classes ?? null,
    normalize: t.normalize ?? null,
    resize: t.resize ?? null,
    labelColumn: t.labelColumn ?? null,
    initFrom: t.initFrom ?? null,
    inputShape: [...analysis.nodes.get(analysis.inputId)!.outputShape!],
    stages: trainingPlan(analysis),
  };
  const out = [
    '#!/usr/bin/env python3',
    `"""${doc.name}: training script written by Latent Studio ${meta.version} from ${meta.graphFile}.`,
    '',
    ...wrap(
      "Trains the graph's stages as Latent Studio's own engine does: the same dataset, the same split of the same seed, the same normalisation, " +
        "optimisers with Keras' defaults, the same losses, metrics and shuffling, and writes a Latent Studio run folder (metrics.jsonl, run.json, " +
        'config.json, checkpoints, reconstructions.png, model.pt, and model/ in the TensorFlow.js layers format from tfjs-models.json beside this file) that Latent Studio opens like any other run.',
    ),
    '',
    'Usage:',
    '    python train.py [--epochs N] [--batch-size N] [--limit N] [--out DIR] [--device cuda|mps|cpu] [--resume RUN_DIR]',
    '    python train.py --stage classifier --init-from RUN_DIR   one stage, from another run\'s matching layers',
    '    python train.py --evaluate [--run RUN_DIR]      the JSON of `latent-studio evaluate --json`',
    '    torchrun --nproc_per_node 4 train.py ...        DistributedDataParallel; batch size and learning rate are per process',
    '',
    'Needs Python 3.8+, torch (1.13 or later) and numpy; Pillow only for image folders.',
    '"""',
    'import argparse',
    'import atexit',
    'import datetime',
    'import errno',
    'import hashlib',
    'import io',
    'import json',
    'import math',
    'import os',
    'import platform',
    'import re',
    'import secrets',
    'import signal',
    'import socket',
    'import struct',
    'import sys',
    'import time',
    'import uuid',
    'import zlib',
    '',
    'import numpy as np',
    'import torch',
    'import torch.distributed as dist',
    'import torch.nn.functional as F',
    'from torch.nn.parallel import DistributedDataParallel',
    '',
    'HERE = os.path.dirname(os.path.abspath(__file__))',
    'sys.path.insert(0, HERE)',
    'import model as graph_models  # noqa: E402  (model.py beside this file)',
    '',
    '# The graph exactly as exported: each run folder keeps it as graph.latent.json.',
    `GRAPH_TEXT = ${pyStr(meta.graphText)}`,
    'GRAPH_SHA256 = hashlib.sha256(GRAPH_TEXT.encode("utf-8")).hexdigest()',
    '',
    "# The graph's training section with every default filled in; each stage names the model it trains",
    '# (model.py) and the layers it keeps frozen.',
    `CONFIG = ${pyPretty(config)}`,
    '',
    '',
    ...DATA_RUNTIME,
    '',
    '',
    ...OPTIM_RUNTIME,
    '',
    '',
    ...TRAIN_RUNTIME,
    '',
    '',
    ...layerwiseCode(analysis),
    '',
    '',
    ...TRAIN_MAIN,
  ];
  return `${out.join('\n')}\n`;
}
