// impsim's impUnit-compatible test framework module (see ImpUnit.nut). Session code includes
// this file first; the two libraries below are resolved like impCloud resolves #require, from
// the library directories and, failing those, from impsim's own Promise.nut / JSONEncoder.nut.
#require "Promise.lib.nut:4.0.0"
#require "JSONEncoder.class.nut:2.0.0"

// The module returns ImpTestCase and ImpUnitRunner; its class statements also make them (and
// ImpUnitMessage) slots of the root table.
__module_impUnit_exports <- (function() {
@include once __PATH__ + "/ImpUnit.nut"
    return { ImpTestCase = ImpTestCase, ImpUnitRunner = ImpUnitRunner };
})();
