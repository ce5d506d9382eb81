// `npm run kernels`: measures the tfjs kernels each layer, activation, loss term and optimizer
// calls (src/core/kernelProfile.ts) and writes src/core/kernelTable.json.
import * as fs from 'node:fs';
import { profileKernels } from '../src/core/kernelProfile.ts';
import { KERNEL_TABLE_FILE, formatKernelTable } from '../src/core/kernels.ts';

void profileKernels().then((table) => {
  fs.writeFileSync(KERNEL_TABLE_FILE, formatKernelTable(table));
  console.log(`wrote ${KERNEL_TABLE_FILE}`);
});
