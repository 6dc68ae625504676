import FuzzChecks
import FuzzDriver

runFuzzer(.syncBinary)
