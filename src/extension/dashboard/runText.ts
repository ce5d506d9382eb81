/**
 * The active run's lines in the status bar and the Active Run view, from the protocol's fold of
 * its events (RunState). Pure (no vscode): unit-tested on recorded runs.
 */
import type { SummaryRow } from '../../protocol/events.ts';
import type { PhaseState, RunState } from '../../protocol/run.ts';

/** The status bar's text for a run's state: phase, epoch, loss, validation accuracy of the latest epoch and ETA. */
export function statusText(s: RunState): string {
  if (s.status === 'finished') return '$(pass) Distill: finished';
  if (s.status === 'failed') return '$(error) Distill: failed';
  if (s.status === 'stopped') return '$(debug-pause) Distill: stopped';
  const p = s.phase && s.byPhase[s.phase];
  if (!p || !p.startedAt) return `$(sync~spin) Distill: starting on ${s.backend?.name ?? '?'}`;
  const fromEpoch = p.fromEpoch ?? 1;
  // Epochs reported since the phase (re)started: before the first, the phase's start.
  if (!p.epochAt || p.epochAt < p.startedAt || p.epoch < fromEpoch)
    return `$(sync~spin) Distill: ${p.phase} 0/${p.epochs ?? '?'}`;
  const epochs = p.epochs ?? p.epoch;
  const perEpoch = (Date.parse(p.epochAt) - Date.parse(p.startedAt)) / (p.epoch - fromEpoch + 1);
  const eta = Math.max(0, Math.round((perEpoch * (epochs - p.epoch)) / 1000));
  const v = p.validation[p.epoch];
  const acc = v ? ` · val ${(v.accuracy * 100).toFixed(1)}%` : '';
  return `$(sync~spin) Distill: ${p.phase} ${p.epoch}/${epochs} · loss ${(p.trainLoss ?? 0).toFixed(3)}${acc} · ETA ${eta}s`;
}

export interface Snapshot {
  id: string;
  status: string;
  phase?: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  valAccuracy?: number;
  agreement?: number;
  summary?: SummaryRow[];
}

/** The view's numbers from the run's state: the current phase's latest epoch, and the summary once finished. */
export function snapshot(id: string, s: RunState): Snapshot {
  const status = s.status === 'failed' ? `failed: ${s.error}` : s.status;
  if (s.status === 'finished') {
    // The last epoch trained stays on show above the summary.
    const last = Object.values(s.byPhase).reduce<PhaseState | undefined>(
      (a, b) => (b?.epochAt && (!a?.epochAt || b.epochAt >= a.epochAt) ? b : a),
      undefined,
    );
    const v = last?.validation[last.epoch];
    return { id, status, loss: s.lastLoss, valAccuracy: v?.accuracy, agreement: v?.agreement, summary: s.summary };
  }
  const p = s.phase && s.byPhase[s.phase];
  if (!p) return { id, status, loss: s.lastLoss, summary: s.summary };
  // The latest epoch of this start of the phase (a resumed phase starts again from 0).
  const since = p.epochAt !== undefined && p.startedAt !== undefined && p.epochAt >= p.startedAt;
  const v = since ? p.validation[p.epoch] : undefined;
  return {
    id,
    status,
    phase: p.phase,
    epoch: since ? p.epoch : 0,
    epochs: p.epochs,
    loss: p.lastLoss ?? s.lastLoss,
    valAccuracy: v?.accuracy,
    agreement: v?.agreement,
    summary: s.summary,
  };
}
