// Parses each Mermaid diagram file given on the command line with mermaid itself (the renderer
// GitHub uses), in a jsdom window; exits 1 with the parser's message on the first that fails.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

for (const file of process.argv.slice(2)) {
  try {
    const result = await mermaid.parse(fs.readFileSync(file, 'utf8'));
    console.log(`${file}: ${result.diagramType}`);
  } catch (error) {
    console.log(`${file}: ${error.message}`);
    process.exit(1);
  }
}
