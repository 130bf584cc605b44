package dev.faultline;

import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static org.assertj.core.api.Assertions.assertThat;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.EvaluationResult;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import dev.faultline.label.WebAwareLabels;
import dev.faultline.region.WireLeakingRegionView;
import dev.faultline.snapshot.WebAwareSnapshotRule;
import jakarta.persistence.Entity;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.springframework.data.repository.Repository;
import org.springframework.web.bind.annotation.RestController;

/**
 * The package-by-feature rules of STYLE.md and the module graph of docs/architecture.md,
 * enforced. Each module rule is also shown to fail on test fixtures that break it on purpose
 * ({@link WireLeakingRegionView}, {@link WebAwareLabels}, {@link WebAwareSnapshotRule}), so a rule that matches nothing cannot
 * pass silently.
 */
class ArchitectureTest {

    private static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.faultline");

    /** The deliberately violating test classes, imported on their own. */
    private static final JavaClasses VIOLATIONS = new ClassFileImporter()
            .importClasses(WireLeakingRegionView.class, WebAwareLabels.class, WebAwareSnapshotRule.class);

    /**
     * Which module may use which (docs/architecture.md, "Modules"). The root package
     * {@code dev.faultline} (configuration, {@code LatencySummary}) is shared by all and is not a module.
     */
    static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("web", Set.of()),
            Map.entry("label", Set.of()),
            Map.entry("event", Set.of()),
            Map.entry("workload", Set.of()),
            Map.entry("agent", Set.of("event")),
            Map.entry("host", Set.of("agent")),
            Map.entry("security", Set.of("web")),
            Map.entry("node", Set.of("agent", "event")),
            Map.entry("region", Set.of("agent", "event", "label", "web")),
            Map.entry("restore", Set.of("agent", "event", "label", "node", "web")),
            Map.entry("snapshot", Set.of("agent", "event", "label", "node", "region", "restore", "security", "web")),
            Map.entry("policy", Set.of("label", "snapshot", "web")),
            Map.entry("migration", Set.of("agent", "event", "node", "region", "security", "web")));

    /** The agent's wire format: only agent/ may use these (its own records are in the next set). */
    private static final Set<String> WIRE_TYPES = Set.of("dev.faultline.agent.MessageType",
            "dev.faultline.agent.Frame", "dev.faultline.agent.AgentJson", "dev.faultline.agent.MigrationWire",
            "dev.faultline.agent.AgentConnection");

    /** What agents report, typed but shaped like the wire: features may read them, REST views never show them. */
    private static final Set<String> AGENT_RECORDS = Set.of("dev.faultline.agent.AgentRegion",
            "dev.faultline.agent.RegionStats", "dev.faultline.agent.AgentRestore", "dev.faultline.agent.AgentMigration",
            "dev.faultline.agent.AgentStatus", "dev.faultline.agent.AgentState", "dev.faultline.agent.AgentMode",
            "dev.faultline.agent.KernelInfo", "dev.faultline.agent.UffdCapabilities");

    static final ArchRule MODULE_GRAPH = classes().should(dependOnlyOnAllowedModules());

    // the merge patch of PATCH /snapshot-policies reads the REST body as a tree: REST's JSON, not the agent's
    static final ArchRule ONLY_AGENT_SPEAKS_THE_WIRE_FORMAT = noClasses()
            .that().resideOutsideOfPackage("dev.faultline.agent..")
            .and().doNotHaveFullyQualifiedName("dev.faultline.policy.PolicyController")
            .should().dependOnClassesThat(among("the agent's wire format", WIRE_TYPES))
            .orShould().dependOnClassesThat(describe("JsonNode",
                    c -> c.getName().equals("tools.jackson.databind.JsonNode")));

    static final ArchRule REST_VIEWS_EMBED_NO_AGENT_RECORD = noClasses()
            .that(describe("are REST views (records named *View, HostInfo, and their nested types) or controllers",
                    c -> outermost(c).getSimpleName().endsWith("View") || outermost(c).isAnnotatedWith(RestController.class)
                            || outermost(c).getName().equals("dev.faultline.host.HostInfo")))
            .should().dependOnClassesThat(among("agent records or wire types", union(WIRE_TYPES, AGENT_RECORDS)));

    static final ArchRule SHARED_KERNEL_KNOWS_NO_WEB = noClasses()
            .that().resideInAnyPackage("dev.faultline.agent..", "dev.faultline.event..", "dev.faultline.label..",
                    "dev.faultline.workload..")
            .or(describe("are in the root package", c -> c.getPackageName().equals("dev.faultline")))
            .should().dependOnClassesThat().resideInAPackage("dev.faultline.web..");

    /**
     * Entities and services refuse with {@code dev.faultline.DomainException}; only controllers and
     * the filter chain ({@code SecurityConfig}, and {@code BearerTokenFilter}, which answers 429
     * before any controller runs) speak HTTP problems. Services may
     * return the list envelope {@code PageResponse}, which lives in the shared kernel.
     */
    static final ArchRule ONLY_THE_HTTP_EDGE_KNOWS_WEB = noClasses()
            .that().resideOutsideOfPackage("dev.faultline.web..")
            .and(describe("are not controllers", c -> !outermost(c).isAnnotatedWith(RestController.class)))
            .and(describe("are not the security filter chain",
                    c -> !outermost(c).getName().equals("dev.faultline.security.SecurityConfig")
                            && !outermost(c).getName().equals("dev.faultline.security.BearerTokenFilter")))
            .should().dependOnClassesThat().resideInAPackage("dev.faultline.web..");

    @Test
    void modulesUseOnlyTheModulesTheGraphAllows() {
        MODULE_GRAPH.check(CLASSES);
    }

    @Test
    void onlyTheAgentAdapterKnowsTheWireFormat() {
        ONLY_AGENT_SPEAKS_THE_WIRE_FORMAT.check(CLASSES);
    }

    @Test
    void restViewsEmbedNoAgentRecord() {
        REST_VIEWS_EMBED_NO_AGENT_RECORD.check(CLASSES);
    }

    @Test
    void theSharedKernelNeverImportsWeb() {
        SHARED_KERNEL_KNOWS_NO_WEB.check(CLASSES);
    }

    @Test
    void onlyControllersAndTheFilterChainKnowWeb() {
        ONLY_THE_HTTP_EDGE_KNOWS_WEB.check(CLASSES);
    }

    @Test
    void eachModuleRuleFailsOnAClassThatBreaksIt() {
        assertViolated(MODULE_GRAPH, "WireLeakingRegionView", "dev.faultline.snapshot.SnapshotView");
        assertViolated(ONLY_AGENT_SPEAKS_THE_WIRE_FORMAT, "WireLeakingRegionView", "MessageType");
        assertViolated(REST_VIEWS_EMBED_NO_AGENT_RECORD, "WireLeakingRegionView", "AgentRegion");
        assertViolated(REST_VIEWS_EMBED_NO_AGENT_RECORD, "WireLeakingRegionView", "AgentStatus");
        assertViolated(SHARED_KERNEL_KNOWS_NO_WEB, "WebAwareLabels", "ApiException");
        assertViolated(ONLY_THE_HTTP_EDGE_KNOWS_WEB, "WebAwareSnapshotRule", "ApiException");
        assertViolated(ONLY_THE_HTTP_EDGE_KNOWS_WEB, "WebAwareLabels", "ApiException");
    }

    private static void assertViolated(ArchRule rule, String offender, String target) {
        EvaluationResult result = rule.evaluate(VIOLATIONS);
        assertThat(result.hasViolation()).as("%s fails on %s", rule.getDescription(), offender).isTrue();
        assertThat(result.getFailureReport().getDetails())
                .anySatisfy(line -> assertThat(line).contains(offender).contains(target));
    }

    private static ArchCondition<JavaClass> dependOnlyOnAllowedModules() {
        return new ArchCondition<>("depend only on the modules docs/architecture.md allows") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                String own = module(c);
                if (own == null) {
                    return;
                }
                Set<String> allowed = ALLOWED.get(own);
                if (allowed == null) {
                    events.add(SimpleConditionEvent.violated(c, "package dev.faultline." + own + " of " + c.getName()
                            + " is not in the module graph (ArchitectureTest.ALLOWED, docs/architecture.md)"));
                    return;
                }
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    String target = module(d.getTargetClass());
                    if (target != null && !target.equals(own) && !allowed.contains(target)) {
                        events.add(SimpleConditionEvent.violated(d, own + " may not use " + target + ": "
                                + d.getDescription()));
                    }
                }
            }
        };
    }

    /** The module of a class: the package right under dev.faultline; null for the root package and outside. */
    private static String module(JavaClass c) {
        String pkg = c.getPackageName();
        if (!pkg.startsWith("dev.faultline.")) {
            return null;
        }
        String rest = pkg.substring("dev.faultline.".length());
        int dot = rest.indexOf('.');
        return dot < 0 ? rest : rest.substring(0, dot);
    }

    private static JavaClass outermost(JavaClass c) {
        JavaClass outer = c;
        while (outer.getEnclosingClass().isPresent()) {
            outer = outer.getEnclosingClass().get();
        }
        return outer;
    }

    private static DescribedPredicate<JavaClass> among(String what, Set<String> names) {
        return describe(what, c -> names.contains(outermost(c).getName()));
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        java.util.HashSet<String> all = new java.util.HashSet<>(a);
        all.addAll(b);
        return Set.copyOf(all);
    }

    @Test
    void entitiesStayInsideTheirFeature() {
        classes().that().areAnnotatedWith(Entity.class).should().notBePublic().check(CLASSES);
    }

    @Test
    void repositoriesStayInsideTheirFeature() {
        classes().that().areAssignableTo(Repository.class).should().notBePublic().check(CLASSES);
    }

    @Test
    void controllersAreReachedOnlyOverHttp() {
        classes().that().areAnnotatedWith(RestController.class).should().notBePublic().check(CLASSES);
    }

    @Test
    void featuresDoNotDependOnEachOtherInCycles() {
        slices().matching("dev.faultline.(*)..").should().beFreeOfCycles().check(CLASSES);
    }

    @Test
    void theSharedWebLayerKnowsNoFeature() {
        noClasses().that().resideInAPackage("dev.faultline.web..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.faultline.agent..", "dev.faultline.host..",
                        "dev.faultline.security..")
                .check(CLASSES);
    }
}
