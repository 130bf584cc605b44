package dev.faultline.event;

import java.time.Instant;
import java.util.List;
import org.springframework.data.domain.Limit;
import org.springframework.data.jpa.repository.JpaRepository;

interface EventRepository extends JpaRepository<Event, Long> {

    List<Event> findByIdGreaterThanOrderByIdAsc(long id, Limit limit);

    List<Event> findByOrderByIdDesc(Limit limit);

    List<Event> findBySubjectTypeAndSubjectIdOrderByIdDesc(String subjectType, String subjectId, Limit limit);

    List<Event> findByIdLessThanOrderByIdDesc(long before, Limit limit);

    List<Event> findBySubjectTypeAndSubjectIdAndIdLessThanOrderByIdDesc(String subjectType, String subjectId,
            long before, Limit limit);

    long deleteByOccurredAtBefore(Instant cutoff);
}
