// Encodes texts with Hugging Face's tokenizers library (the Rust implementation, through its Node
// binding) so that EdgeLM's tests can compare ids with the reference. Not part of EdgeLM.
// stdin:  {"tokenizer": "/path/tokenizer.json", "texts": ["...", ...], "addSpecialTokens": false, "nfc": false}
// stdout: {"texts": [...], "ids": [[...], ...], "decoded": ["...", ...]}
//   texts: the texts encoded (NFC-normalized first when "nfc" is true); decoded: the ids decoded back,
//   special tokens kept.
// An error (a file HF cannot load) goes to stderr with exit code 1.
'use strict';
const { Tokenizer } = require('tokenizers');

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const tok = Tokenizer.fromFile(req.tokenizer);
  const opts = { addSpecialTokens: !!req.addSpecialTokens };
  const texts = req.nfc ? req.texts.map((t) => t.normalize('NFC')) : req.texts;
  const ids = [];
  const decoded = [];
  for (const text of texts) {
    const enc = await tok.encode(text, null, opts);
    const row = enc.getIds();
    ids.push(row);
    decoded.push(await tok.decode(row, false));
  }
  process.stdout.write(JSON.stringify({ texts, ids, decoded }));
}

main().catch((e) => {
  process.stderr.write(`hf-tokenizers: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
