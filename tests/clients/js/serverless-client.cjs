// @fal-ai/serverless-client (the seed pages' client), unchanged, against the emulator; prints one JSON report.
"use strict";

const fal = require("@fal-ai/serverless-client");
const { options, step, download, patterned, sha256, withTimeout, finish } = require("./common.cjs");

const IMAGE = "fal-ai/flux-pro";
const prompt = { prompt: "a lighthouse at dusk", image_size: "square" };

async function main() {
  await step("run", async () => {
    const output = await fal.run(IMAGE, { input: prompt });
    return { output, file: await download(output.images[0].url) };
  });
  await step("subscribe_poll", async () => {
    const statuses = [];
    const output = await fal.subscribe(IMAGE, {
      input: prompt, logs: true, pollInterval: 20, onQueueUpdate: (s) => statuses.push(s.status),
    });
    return { output, statuses };
  });
  await step("subscribe_stream", async () => {
    const statuses = [];
    const output = await fal.subscribe(IMAGE, {
      input: prompt, logs: true, mode: "streaming", onQueueUpdate: (s) => statuses.push(s.status),
    });
    return { output, statuses };
  });
  await step("queue", async () => {
    const { request_id: requestId } = await fal.queue.submit(IMAGE, { input: prompt });
    const first = await fal.queue.status(IMAGE, { requestId, logs: true });
    const done = await fal.queue.subscribeToStatus(IMAGE, { requestId, pollInterval: 20 });
    const output = await fal.queue.result(IMAGE, { requestId });
    let cancelled;
    try {
      await fal.queue.cancel(IMAGE, { requestId });
      cancelled = { status: 200 };
    } catch (error) {
      cancelled = { status: error.status, body: error.body };
    }
    return { requestId, first: first.status, done: done.status, output, cancelled };
  });
  await step("cancel_queued", async () => {
    const endpoint = options.held_endpoint;
    const { request_id: requestId } = await fal.queue.submit(endpoint, { input: options.held_input });
    const before = await fal.queue.status(endpoint, { requestId });
    await fal.queue.cancel(endpoint, { requestId });
    const after = await fal.queue.subscribeToStatus(endpoint, { requestId, pollInterval: 20 });
    return { requestId, before: before.status, after: after.status, error_type: after.error_type };
  });
  await step("status_stream", async () => {
    const { request_id: requestId } = await fal.queue.submit(IMAGE, { input: prompt });
    const stream = await fal.queue.streamStatus(IMAGE, { requestId, logs: true });
    const statuses = [];
    stream.on("data", (s) => statuses.push(s.status));
    const last = await withTimeout(stream.done(), 20000, "status stream");
    return { requestId, statuses, last: last.status };
  });
  await step("upload_small", async () => {
    const bytes = patterned(4096);
    const url = await fal.storage.upload(new Blob([bytes], { type: "application/octet-stream" }));
    return { url, sha256: sha256(bytes), size: bytes.length, file: await download(url) };
  });
  await step("upload_big", async () => {
    // The stored copy is read back and compared on the Python side, independently of this client.
    const bytes = patterned(options.big_bytes);
    const url = await fal.storage.upload(new Blob([bytes], { type: "application/octet-stream" }));
    return { url, size: bytes.length };
  });
  await step("stream", async () => {
    // 0.15's async iterator stops at "done" and drops what it had not yielded yet (1.x drains
    // its buffer first), so this client is read through its "data" events.
    const stream = await fal.stream(options.stream_endpoint, { input: options.stream_input });
    const events = [];
    stream.on("data", (event) => events.push(event));
    const done = await withTimeout(stream.done(), 20000, "stream");
    return { events, done };
  });
  await step("realtime", async () => {
    // The client keeps only the latest message while it connects (a realtime app wants the
    // newest frame), so the second request goes out once the first is answered.
    const results = [];
    const errors = [];
    let wake = () => {};
    const answered = (count) => new Promise((resolve) => {
      wake = () => { if (results.length + errors.length >= count) resolve(); };
      wake();
    });
    const connection = fal.realtime.connect(options.realtime_endpoint, {
      throttleInterval: 0,
      onResult: (result) => { results.push(result); wake(); },
      onError: (error) => { errors.push({ message: error.message, status: error.status, body: error.body }); wake(); },
    });
    connection.send({ ...options.realtime_input, request_id: "js-realtime-1" });
    await withTimeout(answered(1), 20000, "realtime");
    connection.send({ ...options.realtime_input, num_inference_steps: 99 });
    await withTimeout(answered(2), 20000, "realtime");
    // Copied before closing: a close() without a code ends in 1005, which the client reports as an error.
    const seen = { results: [...results], errors: [...errors] };
    connection.close();
    return seen;
  });
  await step("webhook", async () => {
    const { request_id: requestId } = await fal.queue.submit(IMAGE, { input: prompt, webhookUrl: options.webhook_url });
    await fal.queue.subscribeToStatus(IMAGE, { requestId, pollInterval: 20 });
    return { requestId };
  });
  await step("wrong_key", async () => {
    fal.config({ credentials: "nobody:nothing" });
    try {
      await fal.run(IMAGE, { input: prompt });
      return { status: 200 };
    } catch (error) {
      return { status: error.status, body: error.body };
    }
  });
}

main().finally(() => finish("@fal-ai/serverless-client"));
