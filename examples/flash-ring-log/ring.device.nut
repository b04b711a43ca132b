// A ring log in the SPI flash: fixed-size records over a few 4 KB sectors. On every boot it
// scans the ring to find where it left off, so records survive restarts, power cycles and,
// with `impsim run --flash image.bin`, separate runs.
const SECTOR = 4096;
const SECTORS = 4;
const RECORD = 16;           // 4-byte sequence number, 4-byte time, 8 bytes of payload
const PER_SECTOR = 256;      // SECTOR / RECORD

local flash = hardware.spiflash;
flash.enable();

function readSeq(index) {
    local b = flash.read(index * RECORD, 4);
    return b.readn('i');
}

// Find the newest record: the highest sequence number in the ring (erased slots read -1).
local next = 0, seq = 0;
for (local i = 0; i < SECTORS * PER_SECTOR; i++) {
    local s = readSeq(i);
    if (s != -1 && s >= seq) { seq = s + 1; next = (i + 1) % (SECTORS * PER_SECTOR); }
}
server.log(format("ring log: %d records written before this boot", seq));

function append(payload) {
    if (next % PER_SECTOR == 0) flash.erasesector((next / PER_SECTOR) * SECTOR);
    local rec = blob(RECORD);
    rec.writen(seq, 'i');
    rec.writen(time(), 'i');
    rec.writestring(format("%08x", payload));
    local rc = flash.write(next * RECORD, rec, SPIFLASH_POSTVERIFY);
    if (rc != 0) server.error("flash write failed at record " + next);
    seq++;
    next = (next + 1) % (SECTORS * PER_SECTOR);
}

function tick() {
    append(hardware.millis());
    if (seq % 60 == 0) server.log(format("ring log: %d records", seq));
    imp.wakeup(60, tick);
}
tick();
