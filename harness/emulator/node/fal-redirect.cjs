// Points fal's JavaScript clients (@fal-ai/client, @fal-ai/serverless-client and wrappers built on
// them) at a local fal emulator without changing their code, and keeps the process on this machine.
//
// Loaded with `node --require <this file>`; harness.emulator.node_redirect_env() builds the
// environment. FAL_HARNESS_EMULATOR holds {"queue": <queue URL>, "run": <run URL>}.
// Every fetch() and WebSocket whose host is one of fal's is rewritten to the emulator:
//   fal.run, ws.fal.run, falrun.com, *.gateway.alpha.fal.ai        -> the run address
//   queue.fal.run, queue.falrun.com, rest.fal.ai, rest.alpha.fal.ai,
//   v3.fal.media and any other *.fal.media                          -> the queue address
// Unless FAL_HARNESS_LOOPBACK_ONLY=0, any connection to a non-loopback address and any DNS lookup
// of a name other than localhost is refused with an error naming the host, and listed in
// globalThis.falHarness.refused.
"use strict";

const dns = require("node:dns");
const net = require("node:net");

const config = JSON.parse(process.env.FAL_HARNESS_EMULATOR || "null");
if (!config || typeof config.queue !== "string" || typeof config.run !== "string") {
  throw new Error("fal-redirect: FAL_HARNESS_EMULATOR must be {\"queue\": URL, \"run\": URL}");
}
const refused = [];
globalThis.falHarness = { refused, emulator: config };

const RUN_HOSTS = new Set(["fal.run", "ws.fal.run", "falrun.com"]);
const QUEUE_HOSTS = new Set(["queue.fal.run", "queue.falrun.com", "rest.fal.ai", "rest.alpha.fal.ai", "fal.media"]);

function emulatorBase(host) {
  if (RUN_HOSTS.has(host) || host.endsWith(".gateway.alpha.fal.ai")) return config.run;
  if (QUEUE_HOSTS.has(host) || host.endsWith(".fal.media")) return config.queue;
  return null;
}

function rewrite(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch (_) {
    return raw;
  }
  const base = emulatorBase(url.hostname.toLowerCase());
  if (base === null) return raw;
  const target = new URL(base);
  const secure = target.protocol === "https:";
  url.protocol = url.protocol === "ws:" || url.protocol === "wss:" ? (secure ? "wss:" : "ws:") : target.protocol;
  url.host = target.host;
  return url.toString();
}

const realFetch = globalThis.fetch;
globalThis.fetch = function falRedirectedFetch(input, init) {
  if (typeof input === "string" || input instanceof URL) {
    return realFetch(rewrite(String(input)), init);
  }
  if (input && typeof input.url === "string") {
    const moved = rewrite(input.url);
    if (moved !== input.url) input = new Request(moved, input);
  }
  return realFetch(input, init);
};

if (typeof globalThis.WebSocket === "function") {
  const RealWebSocket = globalThis.WebSocket;
  globalThis.WebSocket = class FalRedirectedWebSocket extends RealWebSocket {
    constructor(url, protocols) {
      super(rewrite(String(url)), protocols);
    }
  };
}

if (process.env.FAL_HARNESS_LOOPBACK_ONLY !== "0") {
  const isLoopback = (host) => {
    const name = String(host || "localhost").replace(/^\[|\]$/g, "").toLowerCase();
    if (name === "localhost" || name === "::1") return true;
    return net.isIPv4(name) && name.startsWith("127.");
  };
  const refusal = (host, what) => {
    refused.push({ host: String(host), what });
    const error = new Error(`fal-redirect: refused to ${what} ${host}: only loopback addresses may be reached`);
    error.code = "ECONNREFUSED";
    return error;
  };

  const realConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    let options = args[0];
    if (Array.isArray(options)) options = options[0];
    const host = options !== null && typeof options === "object" ? options.host : typeof args[1] === "string" ? args[1] : undefined;
    const path = options !== null && typeof options === "object" ? options.path : undefined;
    if (path === undefined && !isLoopback(host)) {
      const error = refusal(host, "connect to");
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return realConnect.apply(this, args);
  };

  const realLookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname, options, callback) {
    if (!isLoopback(hostname)) {
      const done = typeof options === "function" ? options : callback;
      const error = refusal(hostname, "resolve");
      process.nextTick(() => done(error));
      return {};
    }
    return realLookup.apply(this, arguments);
  };
  const realPromiseLookup = dns.promises.lookup;
  dns.promises.lookup = function guardedPromiseLookup(hostname, options) {
    if (!isLoopback(hostname)) return Promise.reject(refusal(hostname, "resolve"));
    return realPromiseLookup.call(this, hostname, options);
  };
}
