// bench/node/get.mjs (run by bench/bench-client when `npm ci` installed the
// SDK): N x paddle.customers.get(ID) through the official node SDK, after
// a warm-up, against BASE_URL; prints the process CPU and wall seconds.
//   node get.mjs BASE_URL KEY N ID
import { Paddle } from "@paddle/paddle-node-sdk";

const [baseUrl, key, n, id] = process.argv.slice(2);
// The SDK takes an unknown environment as its base URL.
const paddle = new Paddle(key, { environment: baseUrl, logLevel: "error" });
for (let i = 0; i < 50; i++) await paddle.customers.get(id);
const cpu0 = process.cpuUsage();
const wall0 = process.hrtime.bigint();
for (let i = 0; i < Number(n); i++) {
  const c = await paddle.customers.get(id);
  if (c.id !== id) throw new Error("unexpected customer " + c.id);
}
const cpu = process.cpuUsage(cpu0);
const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
console.log(`cpu=${(cpu.user + cpu.system) / 1e6} wall=${wall}`);
