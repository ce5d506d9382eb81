/** What run.json says a run is (method, strategy, seed), for run lists such as the Run History. */
import type { DistillConfig } from '../config/schema.ts';
import type { RunSetup } from '../../protocol/run.ts';

export function runSetup(config: DistillConfig): RunSetup {
  const d = config.distill;
  // A combined objective is named by its terms, in config order, each once: `hint+kd`.
  const method = d.method === 'combined' ? [...new Set(d.terms.map((t) => t.type))].join('+') : d.method;
  const labelSmoothing = d.method === 'kd' ? 0 : (d.labelSmoothing ?? 0);
  return {
    method,
    strategy: config.strategy.type,
    seed: config.train.seed,
    ...(labelSmoothing > 0 ? { labelSmoothing } : {}),
  };
}
