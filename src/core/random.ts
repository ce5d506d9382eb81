/** Deterministic pseudo-random numbers, so a seed makes a run repeatable on one backend. */

/** mulberry32: tiny, fast, and good enough for shuffling and weight initialisation. */
export function mulberry32(seed: number): () => number {
  return new SeededRandom(seed).next;
}

/** Mixes several integers into one 32-bit seed (FNV-1a over their bytes). */
export function mixSeed(...parts: Array<number | string>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const s = String(part);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x2c; // separator, so (1, 23) and (12, 3) differ
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Fisher-Yates permutation of 0..n-1 from a seed. */
export function permutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** mulberry32 with its state exposed, so a checkpoint can store and restore it exactly. */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * tfjs draws the seeds of its unseeded random ops (weight initialisers, dropout masks) from
 * Math.random, so seeding Math.random is what makes those repeatable. The trainer is its own
 * process; nothing in it needs cryptographic randomness from Math.random.
 */
export function seedGlobalRandom(seed: number): SeededRandom {
  const rng = new SeededRandom(seed);
  Math.random = rng.next;
  return rng;
}
