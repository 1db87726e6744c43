// A misbehaving keystore plugin process for the client's tests. It handshakes correctly, then:
//   die-on-sign   exits (code 1) when asked to sign, mid-call; answers identify
//   hang          never answers anything after the handshake
// It appends its pid to the file in HOSTILE_PID_FILE (when set), so tests can see respawns and kills.
import { appendFileSync } from "node:fs";
import { createServer } from "node:net";

const mode = process.argv[2];
if (process.env.HOSTILE_PID_FILE) appendFileSync(process.env.HOSTILE_PID_FILE, `${process.pid}\n`);
const server = createServer((socket) => {
  let buf = "";
  socket.on("data", (d) => {
    buf += d;
    for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
      const req = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const reply = (result) => socket.write(`${JSON.stringify({ jsonrpc: "2.0", id: req.id, result })}\n`);
      if (req.method === "handshake") reply({ protocol: "arca-keystore", version: 1, name: "hostile", is_hardware: false, capabilities: [] });
      else if (mode === "die-on-sign" && req.method === "sign") process.exit(1);
      else if (mode === "die-on-sign" && req.method === "signer_info") reply({ algorithm: "ed25519", public_key: "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=" });
      else if (mode === "die-on-sign" && req.method === "identify") reply({ store: "hostile", kind: "secret", id: "0a0b" });
    }
  });
});
server.listen(process.env.ARCA_KEYSTORE_PLUGIN_SOCKET);
