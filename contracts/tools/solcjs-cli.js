#!/usr/bin/env node
// A native-solc-compatible front for the npm `solc` package (solcjs), so py-solc-x can drive it
// where no native binary can be installed. Answers `--version` and `--standard-json` only;
// imports resolve under --base-path and each --include-path, like the native compiler.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);
const roots = [];
let standardJson = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--version") {
    process.stdout.write(
      "solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n",
    );
    process.exit(0);
  } else if (arg === "--standard-json") {
    standardJson = true;
  } else if (arg === "--base-path" || arg === "--include-path") {
    roots.push(args[++i]);
  } else if (arg === "--allow-paths") {
    i++; // the resolver below only reads under the given roots, so there is nothing to allow
  } else if (arg.startsWith("--")) {
    process.stderr.write("solcjs-cli: unsupported option " + arg + "\n");
    process.exit(2);
  }
}
if (!standardJson) {
  process.stderr.write("solcjs-cli: only --version and --standard-json are supported\n");
  process.exit(2);
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(unitName) {
  for (const root of roots) {
    const candidate = path.resolve(root, unitName);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: "File not found under " + roots.join(", ") + ": " + unitName };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
