/**
 * State a loss term keeps across the steps of a phase (CRD's memory bank of embeddings): created
 * for the phase's training rows, told each batch's rows before the step and committed after it,
 * saved with every checkpoint and restored on resume, so a resumed phase continues exactly.
 */
import type { NamedArray } from '../train/checkpoint.ts';

/** The training rows of a phase, as a term's state sees them. */
export interface PhaseRows {
  phase: string;
  /** Rows of the phase's training split (the transfer set's included). */
  n: number;
  /** Their labels on the host (-1: unlabeled). */
  labels: Int32Array;
  /** `train.seed`: with the phase, epoch and step it seeds what the state draws. */
  seed: number;
}

export interface TermPhaseState {
  /** Before the step on `rows` (indices into the phase's training rows). */
  beforeStep(rows: Int32Array, epoch: number, step: number): void;
  /** After the step's update: the state takes in what the step computed. */
  afterStep(): void;
  /** Its arrays, named, for a checkpoint. */
  arrays(): Promise<NamedArray[]>;
  /** Continues from a checkpoint's arrays; throws an Error naming what does not fit. */
  restore(arrays: NamedArray[]): void;
  dispose(): void;
}

/** The terms of one objective that keep a state, each reached through its accessor during a phase. */
export class TermStates {
  private readonly factories: Array<{ prefix: string; create: (rows: PhaseRows) => TermPhaseState }> = [];
  private current: TermPhaseState[] | undefined;

  get any(): boolean {
    return this.factories.length > 0;
  }

  /** Registers term `term`'s state; the accessor returns it during a phase (between begin and its dispose). */
  register<S extends TermPhaseState>(term: number, create: (rows: PhaseRows) => S): () => S {
    const index = this.factories.length;
    this.factories.push({ prefix: `term_${term + 1}/`, create });
    return () => {
      if (!this.current) throw new Error('a stateful loss term was used outside a training phase');
      return this.current[index] as S;
    };
  }

  /** Creates every term's state for a phase; the result steps, saves, restores and disposes them together. */
  begin(rows: PhaseRows): TermPhaseState {
    const states = this.factories.map((f) => f.create(rows));
    this.current = states;
    const prefixes = this.factories.map((f) => f.prefix);
    return {
      beforeStep: (r, epoch, step) => states.forEach((s) => s.beforeStep(r, epoch, step)),
      afterStep: () => states.forEach((s) => s.afterStep()),
      arrays: async () =>
        (await Promise.all(states.map((s) => s.arrays()))).flatMap((arrays, i) =>
          arrays.map((a) => ({ ...a, name: `${prefixes[i]}${a.name}` })),
        ),
      restore: (arrays) =>
        states.forEach((s, i) =>
          s.restore(
            arrays
              .filter((a) => a.name.startsWith(prefixes[i]))
              .map((a) => ({ ...a, name: a.name.slice(prefixes[i].length) })),
          ),
        ),
      dispose: () => {
        states.forEach((s) => s.dispose());
        if (this.current === states) this.current = undefined;
      },
    };
  }
}
