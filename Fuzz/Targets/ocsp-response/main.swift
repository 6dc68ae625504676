import FuzzChecks
import FuzzDriver

runFuzzer(.ocspResponse)
