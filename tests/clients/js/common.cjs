// Shared by the client scripts: one step runner that records every operation's outcome, the
// files the steps upload, and the JSON report the Python side asserts on.
"use strict";

const crypto = require("node:crypto");

const options = JSON.parse(process.env.FAL_CLIENT_TEST || "{}");
const report = { client: null, steps: {}, refused: null };

function sha256(bytes) {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

// A deterministic file of `size` bytes: every 4-byte word is its own index, so a part put in the
// wrong place or lost changes the hash.
function patterned(size) {
  const words = new Uint32Array(Math.ceil(size / 4)); // little-endian on every machine Node runs on here
  for (let i = 0; i < words.length; i++) words[i] = i;
  return new Uint8Array(words.buffer, 0, size);
}

async function step(name, body) {
  const started = process.hrtime.bigint();
  try {
    const value = await body();
    report.steps[name] = { ok: true, value, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  } catch (error) {
    report.steps[name] = {
      ok: false,
      error: String((error && error.message) || error),
      status: error && error.status,
      body: error && error.body,
      stack: error && error.stack,
    };
  }
}

async function download(url) {
  const response = await fetch(url);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, type: response.headers.get("content-type"), size: bytes.length, sha256: sha256(bytes) };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function finish(client) {
  report.client = client;
  report.refused = globalThis.falHarness ? globalThis.falHarness.refused : null;
  process.stdout.write(JSON.stringify(report) + "\n");
  // Realtime connections and keep-alive sockets would keep the process alive.
  process.exit(0);
}

module.exports = { options, report, sha256, patterned, step, download, withTimeout, finish };
