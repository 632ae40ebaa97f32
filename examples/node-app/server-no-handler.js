// The same app without a shutdown handler, as in the incident: SIGTERM kills it on the spot
// (in-flight requests and migrations cut off), and as PID 1 it would ignore SIGTERM until
// the runtime's SIGKILL. `safemig drill` fails it.
const http = require("node:http");

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "0.0.0.0";

http
  .createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(req.url === "/health" ? "ok\n" : "hello\n");
  })
  .listen(port, host, () => console.log(`listening on ${host}:${port}`));
