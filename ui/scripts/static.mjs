// Build helper without dependencies:
//   node scripts/static.mjs clean       empties dist/ (nothing stale from old builds) but for
//                                       its tracked .gitkeep
//   node scripts/static.mjs copy        copies index.html, styles.css and assets/ into dist/
//   node scripts/static.mjs clean-test  empties dist-test/
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

async function clean(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

async function copy() {
  await mkdir(dist, { recursive: true });
  for (const file of ["index.html", "styles.css"]) {
    await cp(join(root, file), join(dist, file));
  }
  await cp(join(root, "assets"), join(dist, "assets"), { recursive: true });
}

const task = process.argv[2];
if (task === "clean") {
  await clean(dist);
  await writeFile(join(dist, ".gitkeep"), "");
}
else if (task === "clean-test") await clean(join(root, "dist-test"));
else if (task === "copy") await copy();
else {
  console.error(`unknown task ${task ?? "(none)"}: use clean, copy or clean-test`);
  process.exit(2);
}
