/**
 * A TensorFlow.js layers model as saved on disk (model.json + weights.bin): its schema, checked
 * where the file enters, and its weights read into named float arrays. What the ONNX export reads
 * (our own exports) and what an import would read (anyone's).
 */
import { z } from 'zod';
import { UserError } from '../core/errors';

const InboundSchema = z.tuple([z.string(), z.number().int(), z.number().int()]).rest(z.unknown());

export const KerasLayerSchema = z
  .object({
    class_name: z.string(),
    name: z.string().optional(),
    config: z.record(z.string(), z.unknown()).and(z.object({ name: z.string() })),
    /** Functional models: one entry per call of the layer; each lists its inputs. */
    inbound_nodes: z.array(z.array(InboundSchema)).optional(),
  })
  .passthrough();
export type KerasLayer = z.infer<typeof KerasLayerSchema>;

const TensorRefSchema = z.tuple([z.string(), z.number().int(), z.number().int()]);

export const TfjsModelJsonSchema = z
  .object({
    format: z.string().optional(),
    modelTopology: z
      .object({
        class_name: z.string(),
        config: z
          .object({
            name: z.string().optional(),
            layers: z.array(KerasLayerSchema),
            input_layers: z.array(TensorRefSchema).optional(),
            output_layers: z.array(TensorRefSchema).optional(),
          })
          .passthrough(),
      })
      .passthrough(),
    weightsManifest: z.array(
      z.object({
        paths: z.array(z.string()),
        weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.string() }).passthrough()),
      }),
    ),
  })
  .passthrough();
export type TfjsModelJson = z.infer<typeof TfjsModelJsonSchema>;

export interface NamedWeight {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Parses model.json's text, with a sentence naming the file and the field when it is not a layers model. */
export function parseTfjsModelJson(text: string, file: string): TfjsModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not JSON (${e instanceof Error ? e.message : String(e)})`, file);
  }
  const parsed = TfjsModelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`${file}: not a TensorFlow.js layers model: "${issue.path.join('.')}": ${issue.message}`, file);
  }
  if (!['Model', 'Functional', 'Sequential'].includes(parsed.data.modelTopology.class_name)) {
    throw new UserError(`${file}: a "${parsed.data.modelTopology.class_name}" topology; expected a layers model (Model, Functional or Sequential)`, file);
  }
  return parsed.data;
}

/** Every weight of the manifest from the concatenated bytes of its shard files (weights.bin), float32 only. */
export function readWeights(model: TfjsModelJson, data: Uint8Array, file: string): Map<string, NamedWeight> {
  const out = new Map<string, NamedWeight>();
  let offset = 0;
  for (const group of model.weightsManifest) {
    for (const w of group.weights) {
      if (w.dtype !== 'float32') throw new UserError(`${file}: weight "${w.name}" is ${w.dtype}; only float32 weights are read`, file);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const bytes = count * 4;
      if (offset + bytes > data.byteLength) {
        throw new UserError(`${file}: the weights files hold ${data.byteLength} bytes, but the manifest needs ${offset + bytes} by weight "${w.name}" ${JSON.stringify(w.shape)}`, file);
      }
      // A copy: the view of a Buffer may start at an offset that is not a multiple of 4.
      const values = new Float32Array(data.slice(offset, offset + bytes).buffer);
      out.set(w.name, { shape: w.shape, values });
      offset += bytes;
    }
  }
  if (offset !== data.byteLength) throw new UserError(`${file}: the weights files hold ${data.byteLength} bytes, the manifest ${offset}`, file);
  return out;
}
