/**
 * Steps per epoch over `n` training rows: ceil(n / batchSize), or with `data.dropLast`
 * floor(n / batchSize), the last incomplete batch left out (its rows change every epoch with the
 * shuffle). One definition for the loop, the events and the schedule.
 */
export function stepsPerEpoch(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}
