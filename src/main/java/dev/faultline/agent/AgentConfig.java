package dev.faultline.agent;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

@Configuration
class AgentConfig {

    /** The primary node's agent, for code that only ever talks to this host's agent. */
    @Bean
    AgentClient agentClient(NodeAgents nodes) {
        return nodes.local();
    }
}
