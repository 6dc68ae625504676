import FuzzChecks
import FuzzDriver

runFuzzer(.timeArgument)
