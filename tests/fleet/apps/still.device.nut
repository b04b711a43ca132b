// Once impOS 44 is installed it loops on imp.wakeup(0, ...): virtual time stands still.
server.log("awake on " + imp.getsoftwareversion());
function spin() { imp.wakeup(0, spin); }
if (imp.getsoftwareversion().find("44.0") != null) spin();
imp.wakeup(5, function() { imp.deepsleepfor(600); });
