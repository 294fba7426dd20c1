/** A Server-Sent Events reader for fetch's body, as the HTML standard parses events. */

export interface SSE {
  id: string | undefined;
  event: string;
  data: string;
}

/** Reads events from a byte stream, keeping lastId for a resume. */
export class SSEReader {
  lastId: string | undefined;

  async *read(body: ReadableStream<Uint8Array>): AsyncGenerator<SSE> {
    const decoder = new TextDecoder();
    const reader = body.getReader();
    let buf = "";
    let event = "";
    let data: string[] = [];
    let id: string | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          // A CR at the end may be the first half of a CRLF: wait for more.
          if (buf[nl] === "\r" && nl === buf.length - 1) break;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
          if (line === "") {
            if (data.length > 0 || event) {
              if (id !== undefined) this.lastId = id;
              yield { id: id ?? this.lastId, event: event || "message", data: data.join("\n") };
            }
            event = "";
            data = [];
            id = undefined;
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? "" : line.slice(colon + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          if (name === "data") data.push(v);
          else if (name === "event") event = v;
          else if (name === "id" && !v.includes("\0")) id = v;
        }
      }
    } finally {
      reader.releaseLock();
    }
  }
}
