import { parseArgs } from 'node:util';
import { probeBackends, resolveBackendChoice } from '../../libs/engine/index.js';
import { printJson, printLine, table } from '../output.js';
import { VERSION } from '../version.js';

export const infoHelp = `harden info [--json]
  Lists the compute backends, whether each can start here, and its device.`;

export async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true });
  const backends = await probeBackends();
  const choice = resolveBackendChoice();
  const gpu = backends.find((b) => b.name === 'webgpu' && b.available && !/software/.test(b.device));
  const native = backends.find((b) => b.name === 'native' && b.available);
  const selected = choice === 'auto' ? (gpu ? 'webgpu' : native ? 'native' : 'wasm') : choice;
  if (values.json) {
    printJson({
      version: VERSION,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      backend_choice: choice,
      selected_backend: selected,
      backends: backends.map((b) => ({ name: b.name, available: b.available, device: b.device, ...(b.reason ? { reason: b.reason } : {}) })),
    });
    return 0;
  }
  printLine(`harden ${VERSION} on node ${process.version} (${process.platform}-${process.arch})`);
  printLine(`backend: ${choice}${choice === 'auto' ? ` → ${selected}` : ''}`);
  printLine();
  printLine(table(['backend', 'available', 'device / reason'], backends.map((b) => [b.name, b.available ? 'yes' : 'no', b.available ? b.device : (b.reason ?? '')])));
  return 0;
}
