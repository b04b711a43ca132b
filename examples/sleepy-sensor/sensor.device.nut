// A battery-powered sensor. It deep-sleeps for 15 minutes between readings, keeps the readings
// in the nv table (which survives deep sleep, and nothing else), and only brings the radio up
// to upload a batch to its agent every BATCH wakes.
const WAKE_INTERVAL = 900;
const BATCH = 4;

// Manual connection management: the radio stays off unless we ask for it.
server.setsendtimeoutpolicy(RETURN_ON_ERROR, WAIT_TIL_SENT, 10);

if (hardware.wakereason() != WAKEREASON_TIMER || !("nv" in getroottable())) {
    // A cold start (or nv lost): begin a fresh batch.
    nv <- { readings = [], wakes = 0 };
}
nv.wakes++;

function readTemperature() {
    // No real sensor here: a slow, deterministic day-like curve.
    return 18.0 + (nv.wakes % 96) / 8.0;
}

nv.readings.push({ t = time(), c = readTemperature() });

function sleep() {
    imp.deepsleepfor(WAKE_INTERVAL);
}

if (nv.readings.len() >= BATCH) {
    server.connect(function(reason) {
        if (reason == SERVER_CONNECTED) {
            if (agent.send("readings", nv.readings) == 0) nv.readings = [];
        }
        // On failure the readings stay in nv and go with the next batch.
        sleep();
    }, 30);
} else {
    sleep();
}
