import { Builder, OnnxParser } from '@kiln/builder';
for (const f of process.argv.slice(2)) {
  try { new OnnxParser(new Builder().createNetwork()).parse(f); console.log(f.split('/').pop(), 'parses'); }
  catch (e) { const ops = new Map(); for (const m of e.message.matchAll(/\((\w+)\): (.*)/g)) ops.set(m[1], m[2]); console.log(f.split('/').pop(), [...ops.entries()].map(([k, v]) => `${k}: ${v.slice(0, 50)}`)); }
}
