// Once impOS 44 is installed it loops on imp.wakeup(0, ...) and never waits for anything again.
server.log("awake on " + imp.getsoftwareversion());
function spin() { for (local i = 0; i < 10; i++) {} imp.wakeup(0, spin); }
if (imp.getsoftwareversion().find("44.0") != null) spin();
imp.wakeup(5, function() { imp.deepsleepfor(600); });
