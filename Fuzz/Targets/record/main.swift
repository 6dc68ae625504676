import FuzzChecks
import FuzzDriver

runFuzzer(.record)
