/**
 * The zod schema of repeats and sweeps: the config keys `seeds` and `sweep` (in
 * src/core/config/schema.ts) and the `*.sweep.json` file are built from the same pieces here, so
 * validation, the editor's JSON Schema and the config reference agree, and their problems are
 * located the same way (src/core/config/load.ts).
 */
import { z } from 'zod';

/**
 * The most tasks (settings x seeds) one sweep may hold: Slurm's default MaxArraySize is 1001, so a
 * plan within it can always be submitted as one job array.
 */
export const MAX_SWEEP_TASKS = 1000;

export const seedsSchema = z
  .array(z.number().int().min(0))
  .min(1)
  .refine((seeds) => new Set(seeds).size === seeds.length, { message: 'expected distinct seeds' })
  .describe(
    "Run every setting once per seed (`train.seed` is set to each in turn) and report each model as mean ± sd over seeds, with the paired gain (distilled minus scratch on the same seed) and its 95 % confidence interval (Student's t on the paired differences). `distill train --seeds 0,1,2` does the same from the command line.",
  );

const gridSchema = z
  .record(z.string(), z.array(z.unknown()).min(1))
  .refine((grid) => Object.keys(grid).length > 0, {
    message: 'the grid is empty; expected at least one config key with a list of values',
  })
  .describe(
    'Every combination of these values (the last key varies fastest). Keys are dotted config paths such as `distill.temperature` (a number segment indexes a list: `distill.terms.0.weight`); each value list holds what that key may take.',
  );

const distributionSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('choice').describe('One of the listed values, each equally likely.'),
      values: z.array(z.unknown()).min(1).describe('The values to choose from.'),
    }),
    z.strictObject({
      type: z
        .literal('uniform')
        .describe('A number drawn uniformly from [low, high], rounded to 4 significant digits.'),
      low: z.number().describe('Smallest value.'),
      high: z.number().describe('Largest value.'),
    }),
    z.strictObject({
      type: z
        .literal('logUniform')
        .describe(
          'A number whose logarithm is uniform on [log low, log high] (learning rates), rounded to 4 significant digits.',
        ),
      low: z.number().positive().describe('Smallest value (> 0).'),
      high: z.number().positive().describe('Largest value.'),
    }),
    z.strictObject({
      type: z.literal('int').describe('An integer drawn uniformly from low..high, both included.'),
      low: z.number().int().describe('Smallest value.'),
      high: z.number().int().describe('Largest value.'),
    }),
  ])
  .describe('How one key is sampled.');

export type SweepDistribution = z.infer<typeof distributionSchema>;

const randomSchema = z
  .strictObject({
    samples: z.number().int().min(1).describe('How many settings to draw.'),
    seed: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Seed of the draws (not of the runs: those are `seeds`): the same seed gives the same settings.'),
    space: z
      .record(z.string(), distributionSchema)
      .refine((space) => Object.keys(space).length > 0, {
        message: 'the space is empty; expected at least one config key with its distribution',
      })
      .describe('The distribution of each swept key (dotted config paths, as in `grid`).'),
  })
  .describe('Settings sampled at random from `space`, `samples` of them, reproducibly from `seed`.');

const exactlyOneMode = (s: { grid?: unknown; random?: unknown }) => (s.grid === undefined) !== (s.random === undefined);
const MODE_MESSAGE = 'expected exactly one of "grid" or "random"';
// A sweep file without either repeats its config over `seeds`.
const MODE_MESSAGE_FILE = 'expected one of "grid" or "random", not both';

const modeShape = {
  grid: gridSchema.optional(),
  random: randomSchema.optional(),
};

/** The config's `sweep` key. */
export const sweepSpecSchema = z
  .strictObject(modeShape)
  .refine(exactlyOneMode, { message: MODE_MESSAGE })
  .describe(
    'Train one run per setting of these config keys (crossed with `seeds`): `distill sweep run <config>` runs them, `distill sweep plan` only writes the sweep folder. The winning setting is the one with the highest mean validation accuracy of the distilled student; only its test accuracy is reported.',
  );

export type SweepSpec = z.infer<typeof sweepSpecSchema>;

/** A `*.sweep.json`: a sweep kept apart from the config it overrides. */
export const sweepFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema reference for editors.'),
    config: z.string().min(1).describe('The `*.distill.json` whose keys the settings override, relative to this file.'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
      .max(64)
      .optional()
      .describe("Sweep name, used in the sweep folder's name (default: the config's `name`)."),
    seeds: seedsSchema.optional(),
    set: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'Config keys set to one value in every task, not swept (dotted paths, as in `grid`): for example `{"bench.enabled": false}` for a tuning sweep that needs no latency figures.',
      ),
    ...modeShape,
  })
  .refine((s) => s.grid === undefined || s.random === undefined, { message: MODE_MESSAGE_FILE })
  .describe('A Distill Studio sweep (*.sweep.json): settings of config keys, crossed with seeds.');

export type SweepFile = z.infer<typeof sweepFileSchema>;
