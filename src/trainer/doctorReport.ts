/** The human form of `distill doctor`: one block per backend, then auto's choice. */
import type { DoctorReport } from '../protocol/backends.ts';

const yes = (b: boolean) => (b ? 'yes' : 'no');

export function formatDoctor(r: DoctorReport): string {
  const lines = [`Node ${r.node} on ${r.platform}`, ''];
  for (const b of r.backends) {
    const state = !b.installed ? 'not installed' : b.loads ? 'loads' : 'does not load';
    lines.push(`${b.name.padEnd(15)} ${state}${b.loads ? `; trains convolutions: ${yes(b.canTrainConvs)}` : ''}`);
    if (b.device) lines.push(`${''.padEnd(16)}device: ${b.device}`);
    lines.push(`${''.padEnd(16)}${b.detail}`);
    if (b.fix) lines.push(`${''.padEnd(16)}fix: ${b.fix}`);
  }
  lines.push('', `auto picks ${r.auto.dense.name} for dense models and ${r.auto.conv.name} for conv models`);
  lines.push(`  dense: ${r.auto.dense.reason}`, `  conv:  ${r.auto.conv.reason}`);
  if (r.onnxProviders?.length) {
    lines.push('', 'ONNX teachers (onnxruntime-node execution providers):');
    for (const p of r.onnxProviders)
      lines.push(`  ${p.name.padEnd(7)} ${p.available ? 'available' : 'unavailable'}: ${p.detail}`);
  }
  return lines.join('\n');
}
