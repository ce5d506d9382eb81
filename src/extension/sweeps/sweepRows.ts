/**
 * What the Runs view shows of a sweep (its group row) and of each task (a child row): text and
 * the context values the menus read. Free of `vscode`, so the tests check it on real folders.
 */
import type { SweepTaskView, SweepView } from './sweepStore.ts';
import { isSweepLive, unfinishedTasks } from './sweepStore.ts';

export interface SweepRow {
  label: string;
  description: string;
  tooltip: string[];
  /** `running` (a task trains), `unfinished` (some task is not finished), `finished`. */
  status: 'running' | 'unfinished' | 'finished';
  /** `sweep.<status>`, plus `.aggregated` when aggregate.json exists (package.json `viewItem` clauses). */
  contextValue: string;
}

const MODE: Record<SweepView['plan']['mode'], string> = { seeds: 'seeds', grid: 'grid', random: 'random' };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The group row of a sweep. */
export function sweepRow(v: SweepView): SweepRow {
  const { plan, counts } = v;
  const total = plan.tasks.length;
  const status: SweepRow['status'] = isSweepLive(v)
    ? 'running'
    : unfinishedTasks(v).length > 0
      ? 'unfinished'
      : 'finished';
  const parts = [
    `${MODE[plan.mode]}: ${plural(plan.settings.length, 'setting')} × ${plural(plan.seeds.length, 'seed')}`,
  ];
  parts.push(`${counts.finished}/${total} finished`);
  if (counts.running + counts.stopping) parts.push(`${counts.running + counts.stopping} running`);
  if (counts.queued) parts.push(`${counts.queued} queued`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.stopped) parts.push(`${counts.stopped} stopped`);
  const jobs = [...new Set(v.submissions.map((s) => s.jobId))];
  return {
    label: plan.name,
    description: parts.join(' · '),
    tooltip: [
      `**${plan.name}** — sweep of ${plural(total, 'task')} (${plan.mode})`,
      plan.keys.length
        ? `swept: ${plan.keys.map((k) => `\`${k}\``).join(', ')}`
        : 'the base config, repeated over seeds',
      `seeds: ${plan.seeds.join(', ')}`,
      `folder: \`${v.dir}\``,
      `config: \`${plan.configFile}\``,
      plan.sweepFile ? `sweep file: \`${plan.sweepFile}\`` : '',
      jobs.length ? `Slurm array job${jobs.length > 1 ? 's' : ''}: ${jobs.join(', ')}` : '',
      v.aggregated ? 'aggregate.json written: Open Sweep View shows the settings and the chosen one' : '',
    ].filter(Boolean),
    status,
    contextValue: `sweep.${status}${v.aggregated ? '.aggregated' : ''}`,
  };
}

/** The label of a task row: its index, setting and seed (`#3 distill.temperature=4 · seed 1`). */
export function taskLabel(t: SweepTaskView): string {
  return `#${t.task.index} ${t.setting} · seed ${t.task.seed}`;
}

/** What a task row adds to its run's description: Slurm's job id and state, or "pending". */
export function taskExtra(t: SweepTaskView): string {
  if (t.slurmJob) return `Slurm ${t.slurmJob} ${t.slurmState ?? (t.run ? '' : 'submitted')}`.trim();
  return t.run ? '' : 'pending';
}
