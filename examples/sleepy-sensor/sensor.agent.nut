// Receives batches of readings and keeps a running total in server.save() storage.
local store = server.load();
if (!("count" in store)) store = { count = 0 };

device.on("readings", function(readings) {
    local sum = 0.0;
    foreach (r in readings) sum += r.c;
    store.count += readings.len();
    server.save(store);
    server.log(format("batch of %d, mean %.2f C, %d readings so far", readings.len(), sum / readings.len(), store.count));
});
