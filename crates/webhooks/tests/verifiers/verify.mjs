// Verifies a Standard Webhooks signature with the npm `standardwebhooks` package.
//
// Usage: node verify.mjs SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < body
// The package is loaded from $SCIMGATE_TEST_WEBHOOK_VERIFIERS/node_modules (ES modules ignore
// NODE_PATH, so the script resolves it from that directory itself).
// Exits 0 when the signature verifies, 1 when it does not, 2 on bad usage.

import { createRequire } from "node:module";
import { join } from "node:path";

const dir = process.env.SCIMGATE_TEST_WEBHOOK_VERIFIERS;
const args = process.argv.slice(2);
if (!dir || args.length !== 4) {
  console.error("usage: SCIMGATE_TEST_WEBHOOK_VERIFIERS=DIR node verify.mjs SECRET ID TIMESTAMP SIGNATURE < body");
  process.exit(2);
}
const require = createRequire(join(dir, "package.json"));
const { Webhook } = require("standardwebhooks");

const [secret, msgId, timestamp, signature] = args;
const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const body = Buffer.concat(chunks);
try {
  new Webhook(secret).verify(
    body,
    { "webhook-id": msgId, "webhook-timestamp": timestamp, "webhook-signature": signature },
    { jsonParse: false },
  );
} catch (err) {
  console.error(`npm standardwebhooks refused: ${err.name}: ${err.message}`);
  process.exit(1);
}
process.exit(0);
