/**
 * The strategy and loss-term registries: complete against the schema (a missing entry does not
 * compile: the @ts-expect-error lines below fail `tsc` if it ever does), the messages that list
 * terms computed from them, and each strategy's plan of phases, made once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { configSchema, lossTermSchema, type DistillConfigInput } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import {
  logitTermsText,
  teacherTermsText,
  TERMS,
  type TermDefinition,
  type TermType,
} from '../src/core/distill/termRegistry.ts';
import { planRun } from '../src/core/run/plan.ts';
import { STRATEGIES, strategyFor } from '../src/core/strategies/index.ts';
import type { Strategy, StrategyType } from '../src/core/strategies/strategy.ts';

// A term type or a strategy type without its implementation is a compile error:
const fiveTerms = { kd: TERMS.kd, hint: TERMS.hint, attention: TERMS.attention, rkd: TERMS.rkd, dkd: TERMS.dkd };
const threeStrategies = {
  single: STRATEGIES.single,
  born_again: STRATEGIES.born_again,
  assistants: STRATEGIES.assistants,
};
// @ts-expect-error teacher_free is missing
export const missingTerm = fiveTerms satisfies { [K in TermType]: TermDefinition<K> };
// @ts-expect-error mutual is missing
export const missingStrategy = threeStrategies satisfies { [K in StrategyType]: Strategy<K> };

const configOf = (overrides: Partial<DistillConfigInput>) =>
  configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    ...overrides,
  });

test("the registries hold exactly the schema's term and strategy types", () => {
  const termTypes = lossTermSchema.options.map((o) => o.shape.type.value);
  assert.deepEqual(Object.keys(TERMS).sort(), [...termTypes].sort());
  assert.deepEqual(Object.keys(STRATEGIES).sort(), [
    'assistants',
    'born_again',
    'multi_teacher',
    'mutual',
    'rocket',
    'single',
    'staged',
  ]);
});

test('messages that list terms are computed from the registry', () => {
  assert.equal(teacherTermsText(), 'kd, hint, attention, rkd, dkd, activation_boundary or crd');
  assert.equal(logitTermsText(), 'kd, dkd, rkd on logits, crd on logits');
});

test("each term logs its parts, a repeated term with _2, and a strategy's terms come after them", () => {
  const config = configOf({
    distill: {
      method: 'combined',
      terms: [
        { type: 'rkd' },
        { type: 'kd' },
        { type: 'dkd' },
        { type: 'teacher_free' },
        { type: 'kd' },
        { type: 'hint', student: 'dense_1', teacher: 'dense_1' },
      ],
    },
    strategy: { type: 'mutual' },
  });
  const objective = compileObjective(config.distill, strategyFor(config).terms());
  assert.deepEqual(objective.termNames, [
    'hard',
    'rkd_distance',
    'rkd_angle',
    'kd',
    'dkd_target',
    'dkd_nontarget',
    'teacher_free',
    'kd_2',
    'hint',
    'peer_hard',
    'mutual',
    'peer_mutual',
  ]);
  assert.ok(objective.usesTeacher && objective.distills);
  assert.deepEqual(
    objective.student.map((r) => r.key),
    ['hint:5:dense_1'],
  );
  assert.deepEqual(
    objective.teacher.map((r) => r.key),
    ['raw:dense_1'],
  );
  const free = compileObjective(
    configOf({ distill: { method: 'combined', terms: [{ type: 'teacher_free' }] } }).distill,
  );
  assert.ok(!free.usesTeacher && free.distills);
  assert.ok(!compileObjective(configOf({ distill: { method: 'none' } }).distill).distills);
});

test("a term's loss returns one value per logged part", async () => {
  await tf.setBackend('cpu');
  const logits = tf.tensor2d([
    [1, 2, 0.5],
    [0.1, -1, 2],
  ]);
  const labels = tf.tensor1d([1, 2], 'int32');
  for (const type of ['kd', 'dkd', 'teacher_free', 'rkd'] as const) {
    const objective = compileObjective(configOf({ distill: { method: 'combined', terms: [{ type }] } }).distill);
    const terms = objective.loss(
      { logits, outputs: new Map() },
      { logits: logits.mul(2) as tf.Tensor2D, outputs: new Map() },
      labels,
      { epoch: 1, fraction: 0 },
    );
    assert.deepEqual(Object.keys(terms), [...objective.termNames, 'total'], type);
    assert.equal(objective.termNames.length, 1 + TERMS[type].parts.length);
  }
});

test('phases are planned once per strategy: teacher, assistants, baseline, then the students', () => {
  const phases = (overrides: Partial<DistillConfigInput>) => {
    const config = configOf(overrides);
    const strategy = strategyFor(config);
    return planRun(config, strategy.stages(), compileObjective(config.distill, strategy.terms()).distills).phases;
  };
  assert.deepEqual(phases({}), ['scratch', 'distill']);
  assert.deepEqual(phases({ baseline: false }), ['distill']);
  assert.deepEqual(
    phases({ distill: { method: 'none' } }),
    ['distill'],
    'nothing distilled: no baseline to compare with',
  );
  assert.deepEqual(
    phases({ distill: { method: 'none' }, strategy: { type: 'mutual' } }),
    ['scratch', 'distill'],
    'mutual learning distils without a teacher',
  );
  assert.deepEqual(phases({ strategy: { type: 'born_again', generations: 3 } }), [
    'scratch',
    'generation-1',
    'generation-2',
    'distill',
  ]);
  const assistants = {
    type: 'assistants' as const,
    assistants: [
      { architecture: { type: 'mlp' as const, hidden: [64] } },
      { architecture: { type: 'mlp' as const, hidden: [32] } },
    ],
  };
  assert.deepEqual(phases({ strategy: assistants }), ['assistant-1', 'assistant-2', 'scratch', 'distill']);
  assert.deepEqual(phases({ teacher: { source: 'train', architecture: { type: 'mlp' } }, strategy: assistants }), [
    'teacher',
    'assistant-1',
    'assistant-2',
    'scratch',
    'distill',
  ]);
});

test("who teaches whom: chains, ensembles, and the stages' epochs", () => {
  const stages = (overrides: Partial<DistillConfigInput>) =>
    strategyFor(configOf({ train: { epochs: 7 }, ...overrides }))
      .stages()
      .map((s) => [s.phase, s.learnsFrom.join('+'), s.epochs, s.role]);
  assert.deepEqual(stages({ strategy: { type: 'born_again', generations: 4, generationTeacher: 'mean-of-earlier' } }), [
    ['generation-1', 'teacher', 7, 'student'],
    ['generation-2', 'generation-1', 7, 'student'],
    ['generation-3', 'generation-1+generation-2', 7, 'student'],
    ['distill', 'generation-1+generation-2+generation-3', 7, 'student'],
  ]);
  assert.deepEqual(
    stages({
      strategy: {
        type: 'assistants',
        assistants: [{ architecture: { type: 'mlp' }, epochs: 2 }, { architecture: { type: 'mlp' } }],
      },
    }),
    [
      ['assistant-1', 'teacher', 2, 'assistant'],
      ['assistant-2', 'assistant-1', 7, 'assistant'],
      ['distill', 'assistant-2', 7, 'student'],
    ],
  );
  assert.deepEqual(stages({ strategy: { type: 'mutual' } }), [['distill', 'teacher', 7, 'student']]);
});

test('strategy checks: chains need a teacher-reading term, an ensemble logits-only terms', () => {
  const problems = (overrides: Partial<DistillConfigInput>) => {
    const config = configOf(overrides);
    const strategy = strategyFor(config);
    return strategy
      .check(compileObjective(config.distill, strategy.terms()))
      .map((p) => `${p.at.join('.')}: ${p.message}`);
  };
  assert.deepEqual(
    problems({ strategy: { type: 'born_again' }, distill: { method: 'combined', terms: [{ type: 'teacher_free' }] } }),
    [
      'strategy.type: "born_again" passes knowledge from model to model, but no loss term reads a teacher; expected "single", or a distill method with kd, hint, attention, rkd, dkd, activation_boundary or crd',
    ],
  );
  assert.equal(
    problems({
      strategy: { type: 'assistants', assistants: [{ architecture: { type: 'mlp' } }] },
      distill: { method: 'none' },
    }).length,
    1,
  );
  assert.deepEqual(
    problems({
      strategy: { type: 'born_again', generations: 3, generationTeacher: 'mean-of-earlier' },
      distill: { method: 'combined', terms: [{ type: 'rkd', teacher: 'dense_1' }] },
    }),
    [
      'strategy.generationTeacher: the mean of earlier generations gives logits only, but a loss term reads intermediate teacher outputs; expected "previous", or only logit-based terms (kd, dkd, rkd on logits, crd on logits)',
    ],
  );
  assert.deepEqual(
    problems({
      strategy: { type: 'born_again', generations: 3, generationTeacher: 'mean-of-earlier' },
      distill: { method: 'combined', terms: [{ type: 'rkd' }, { type: 'dkd' }] },
    }),
    [],
  );
  assert.deepEqual(
    problems({
      strategy: { type: 'born_again', generations: 2, generationTeacher: 'mean-of-earlier' },
      distill: { method: 'combined', terms: [{ type: 'hint', student: 'dense_1', teacher: 'dense_1' }] },
    }),
    [],
    'two generations: no ensemble',
  );
  assert.deepEqual(problems({ strategy: { type: 'mutual' }, distill: { method: 'none' } }), []);
});
