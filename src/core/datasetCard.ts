/**
 * The dataset card on the Input block: what `training.dataset` holds, read for the graph (its
 * Input's shape, resize, label column, classes and split), and the sentence when it does not fit.
 * The worker makes it (src/train/jobs/describe.ts); the host shows it in the editor and the
 * Problems panel.
 */
import { z } from 'zod';

export const DescribeRequestSchema = z
  .object({
    graphText: z.string(),
    graphPath: z.string(),
    cacheDir: z.string().optional(),
  })
  .strict();
export type DescribeRequest = z.infer<typeof DescribeRequestSchema>;

/** How many samples the card's strip shows. */
export const CARD_SAMPLES = 8;

export const DatasetCardSchema = z
  .object({
    /** `training.dataset` as written. */
    spec: z.string(),
    /** What was loaded, for people; absent when it could not be read. */
    source: z.string().optional(),
    kind: z.enum(['image', 'table']).optional(),
    /** One sample's shape as the Input would take it: [H, W, C] for images, [F] for tables ("Match Input to dataset"). */
    shape: z.array(z.number().int().min(1)).min(1).max(3).optional(),
    count: z.number().int().min(0).optional(),
    /** Samples per part of the graph's split (after training.classes). */
    split: z.object({ train: z.number().int(), validation: z.number().int(), test: z.number().int() }).strict().optional(),
    /** Each class with its sample count, and whether training.classes trains on it; null without labels. */
    classes: z.array(z.object({ name: z.string(), count: z.number().int().min(0), trained: z.boolean() }).strict()).nullable().optional(),
    /** A strip of the first samples (images) as a PNG, and their class names. */
    samplesPngBase64: z.string().optional(),
    sampleLabels: z.array(z.string()).optional(),
    /** A table's first rows (the first columns of them). */
    table: z.object({ columns: z.array(z.string()), rows: z.array(z.array(z.number())), moreColumns: z.number().int().min(0) }).strict().optional(),
    /** What loading passed over or changed. */
    notes: z.array(z.string()).default([]),
    /** Why training would stop on this dataset (cannot be read, does not fit the Input, unknown class), as the sentence. */
    problem: z.string().optional(),
  })
  .strict();
export type DatasetCard = z.output<typeof DatasetCardSchema>;
export type DatasetCardInput = z.input<typeof DatasetCardSchema>;
