/** `single`: one student distilled from the teacher. */
import { studentStage, type Strategy } from './strategy.ts';

export const single: Strategy<'single'> = {
  check: () => [],
  architectures: () => [],
  stages: (config) => [studentStage(config)],
};
