/** A minimal TLS 1.2 ClientHello record naming `serverName`. */
export function clientHello(serverName: string): Buffer {
  const name = Buffer.from(serverName);
  const sniEntry = Buffer.concat([Buffer.from([0, 0, name.length]), name]);
  sniEntry.writeUInt16BE(name.length, 1);
  const sniList = Buffer.concat([u16(sniEntry.length), sniEntry]);
  const sniExt = Buffer.concat([u16(0), u16(sniList.length), sniList]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    u16(2),
    Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]),
    u16(sniExt.length),
    sniExt,
  ]);
  const handshake = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  handshake.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(handshake.length), handshake]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
