/**
 * The JSON Schema shipped for `*.latent.json` (contributes.jsonValidation), generated from the same
 * zod schemas the engine validates with, so plain-text editing sees the same rules as the graph editor.
 */
import { z } from 'zod';
import { BLOCKS } from './catalog';
import { GraphDocumentSchema } from './format';

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

export function buildJsonSchema(): JsonSchema {
  const root = toSchema(GraphDocumentSchema);
  const properties = root.properties as Record<string, JsonSchema>;
  const nodes = properties.nodes as { items: JsonSchema };
  const item = nodes.items as { properties: Record<string, JsonSchema> };
  // Block types as an enum (with descriptions) and each block's params checked by its own schema.
  item.properties.type = {
    type: 'string',
    description: 'Block type.',
    enum: BLOCKS.map((b) => b.type),
    enumDescriptions: BLOCKS.map((b) => b.summary),
  };
  nodes.items = {
    ...item,
    allOf: BLOCKS.map((b) => ({
      if: { properties: { type: { const: b.type } }, required: ['type'] },
      then: { properties: { params: { ...toSchema(b.params), description: b.summary } } },
    })),
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Latent Studio graph (*.latent.json)',
    ...root,
  };
}
