// A small app that shuts down the way the runtime expects: on SIGTERM (or SIGINT) it stops
// accepting connections, lets in-flight work finish (here: a simulated 1 s of it), closes
// its resources and exits 0 — well inside the supervisor's stop timeout.
const http = require("node:http");

const port = Number(process.env.PORT || 3000);
// Every interface by default: in a container, the runtime's port mapping reaches the app
// on the container's own address, never on its loopback.
const host = process.env.HOST || "0.0.0.0";
const shutdownWorkMs = Number(process.env.SHUTDOWN_WORK_MS || 1000);

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
    return;
  }
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("hello from the example app\n");
});

server.listen(port, host, () => {
  console.log(`listening on ${host}:${port}`);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal} received: closing the server`);
  server.close(() => {
    // Stand-in for draining queues and `await prisma.$disconnect()`.
    setTimeout(() => {
      console.log("shutdown complete");
      process.exit(0);
    }, shutdownWorkMs);
  });
  // Keep-alive connections would hold `close` open.
  server.closeAllConnections?.();
}

process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
