import EventStore
import Projections

/// The healing engine of one node agent: a MAPE-K loop over observations, executing recovery
/// actions through the agent's `Actuator` behind rate limiters, circuit breakers and retries,
/// and recording every step in the event log.
///
/// ```swift
/// let engine = try await HealingEngine.open(store: store, config: config, actuator: agentActuator,
///                                           declaring: currentTopology)
/// let report = try await engine.cycle([Observation(service: "api", metric: "availability", value: 0.2)])
/// ```
public actor HealingEngine {
    public let store: EventStore
    public let config: HealingConfig
    let actuator: any Actuator
    let sleeper: any Sleeper
    let breaker: CircuitBreaker
    var knowledge: Knowledge

    /// Opens the engine on `store`: replays the log into its knowledge, then, if the store has
    /// never had a topology declared, records `declaring` as `topology.declared`.
    ///
    /// The agent that owns the actions opens with `concludingInterrupted` (the default): an
    /// attempt its previous run started and never ended is recorded as failed. A tool opening
    /// the engine beside a running agent passes false, since those attempts may be under way.
    public static func open(store: EventStore, config: HealingConfig, actuator: any Actuator,
                            sleeper: any Sleeper = SystemSleeper(), declaring topology: Topology? = nil,
                            concludingInterrupted: Bool = true) async throws(HealingError) -> HealingEngine {
        let engine = HealingEngine(store: store, config: config, actuator: actuator, sleeper: sleeper)
        try await engine.catchUp()
        if concludingInterrupted {
            try await engine.concludeInterruptedActions()
            try await engine.concludeInterruptedRuns()
        }
        if let topology, await !engine.knowledge.topologyDeclared {
            _ = try await engine.record([NewEvent(type: HealingEvent.topologyDeclared, stream: "topology/mesh", data: topology.document)])
        }
        return engine
    }

    init(store: EventStore, config: HealingConfig, actuator: any Actuator, sleeper: any Sleeper) {
        self.store = store
        self.config = config
        self.actuator = actuator
        self.sleeper = sleeper
        breaker = CircuitBreaker(config: config.breaker)
        knowledge = Knowledge(breaker: config.breaker)
    }

    var now: Timestamp { store.options.clock.now() }

    /// Applies every event the knowledge has not seen (including other writers' events);
    /// returns them.
    @discardableResult
    func catchUp() throws(HealingError) -> [Event] {
        // Moved out and back rather than copied: a copy would make every dictionary in it
        // copy-on-write on the first change, which costs O(log length) per append.
        var k = knowledge
        knowledge = Knowledge(breaker: config.breaker)
        defer { knowledge = k }
        var applied: [Event] = []
        do {
            // A store whose first events were archived starts from the snapshots at its anchor.
            if k.position == 0, let anchor = try store.archiveAnchor() {
                k = try Knowledge.restored(at: anchor.seq, from: store, breaker: config.breaker)
            }
            try store.scan(from: k.position + 1) { event in
                k.apply(event)
                applied.append(event)
                return true
            }
        } catch let error as StoreError {
            throw .storeFailure(error)
        } catch let ProjectionError.store(error) {
            throw .storeFailure(error)
        } catch {
            throw HealingError.wrap(error)
        }
        return applied
    }

    /// Appends events and applies them to the knowledge; returns them as stored.
    @discardableResult
    func record(_ events: [NewEvent]) async throws(HealingError) -> [Event] {
        guard !events.isEmpty else { return [] }
        let result: AppendResult
        do { result = try await store.append(events) } catch { throw .storeFailure(error) }
        let positions = Set(result.positions)
        return try catchUp().filter { positions.contains($0.seq) }
    }

    /// An attempt the log shows started but never ended was cut off by a stop of the agent (a
    /// crash, a kill): its outcome is unknown, so it is recorded as failed, not retryable, and
    /// counted by its breaker. Left open, a half-open breaker's trial slot would stay taken and
    /// the breaker would reject every later call.
    func concludeInterruptedActions() async throws(HealingError) {
        for (id, action) in knowledge.actions.sorted(by: { $0.key < $1.key }) where action.outcome == "running" {
            let data: [String: EventValue] = ["action": .string(id), "attempt": .int(Int64(max(1, action.attempts))),
                                              "error": "interrupted: the agent stopped during the attempt", "retryable": false,
                                              "duration_ms": 0, "breaker": .string(action.target)]
            try await record([NewEvent(type: HealingEvent.actionFailed, stream: "action/\(id)", data: .map(data), correlation: action.correlation)])
            try await transitionIfDue(action.target, correlation: action.correlation)
        }
    }

    // MARK: Knowledge, read by agents and tools

    public var topology: Topology { knowledge.topology }
    public var breakers: [String: BreakerState] { knowledge.breakers }
    public var limiters: [String: LimiterWindow] { knowledge.limiters }
    public var actions: [String: ActionRecord] { knowledge.actions }
    public var activeSymptoms: [String: MapekProjection.ActiveSymptom] { knowledge.mapek.active }
    /// Malformed events the knowledge skipped, by projection (only those that skipped any).
    public var malformedEvents: [String: MalformedEvents] { knowledge.malformed }

    /// Breakers whose open wait is over (eligible for a trial call).
    public func eligibleForTrial() -> [String] {
        knowledge.breakers.filter { breaker.isEligibleForTrial($0.value, now: now) }.keys.sorted()
    }
}
