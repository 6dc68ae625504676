import FuzzChecks
import FuzzDriver

runFuzzer(.policyDocument)
