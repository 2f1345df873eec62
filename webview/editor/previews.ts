/** What the editor shows of a training run: the newest preview per Output block and whether it trains. Pure. */
import type { ToEditor } from '../../src/core/editorProtocol';

export interface OutputPreview {
  readonly epoch: number;
  readonly pngBase64: string;
  readonly caption: string;
}

export interface RunView {
  /** The newest preview received for each Output block id (the last one sent wins, even across runs). */
  readonly previews: Readonly<Record<string, OutputPreview>>;
  /** True while this graph trains: the header offers Stop instead of Train. */
  readonly training: boolean;
  /** The stage training now (index into the graph's stages), while training and once the host said which. */
  readonly trainingStage: number | undefined;
}

export const EMPTY_RUN_VIEW: RunView = { previews: {}, training: false, trainingStage: undefined };

/** Applies a 'preview' or 'training' message (with the running stage); any other message returns the same object. */
export function reduceRunView(view: RunView, message: ToEditor): RunView {
  switch (message.type) {
    case 'preview':
      return { ...view, previews: { ...view.previews, [message.outputId]: { epoch: message.epoch, pngBase64: message.pngBase64, caption: message.caption } } };
    case 'training': {
      // A running message without a stage keeps the stage known so far; stopping forgets it.
      const trainingStage = message.running ? (message.stageIndex ?? view.trainingStage) : undefined;
      return view.training === message.running && view.trainingStage === trainingStage ? view : { ...view, training: message.running, trainingStage };
    }
    default:
      return view;
  }
}

/** The preview of one Output block; own keys only, so a block named "constructor" has none. */
export function previewFor(previews: RunView['previews'], outputId: string): OutputPreview | undefined {
  return Object.hasOwn(previews, outputId) ? previews[outputId] : undefined;
}
