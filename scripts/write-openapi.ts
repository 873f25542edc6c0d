// `npm run openapi`: writes openapi/openapi.json from the app's own zod schemas.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OPENAPI_FILE, renderOpenApiDocument } from "./openapi-document.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const target = path.join(root, OPENAPI_FILE);
fs.mkdirSync(path.dirname(target), { recursive: true });
const doc = renderOpenApiDocument();
fs.writeFileSync(target, doc);
const paths = Object.keys((JSON.parse(doc) as { paths?: Record<string, unknown> }).paths ?? {}).length;
console.log(`wrote ${OPENAPI_FILE} (${paths} paths, ${doc.length} bytes)`);
